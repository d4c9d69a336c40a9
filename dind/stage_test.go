package dind

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// saveFile is one entry of a test archive: a file, a symlink when link
// is set, a directory when the name ends in a slash.
type saveFile struct {
	name, data, link string
}

func archiveOf(t *testing.T, files ...saveFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		switch {
		case f.link != "":
			h = &tar.Header{Name: f.name, Typeflag: tar.TypeSymlink, Linkname: f.link}
		case strings.HasSuffix(f.name, "/"):
			h = &tar.Header{Name: f.name, Typeflag: tar.TypeDir, Mode: 0o755}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func configOf(t *testing.T, layers ...string) string {
	t.Helper()
	c := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers"}}
	for _, l := range layers {
		c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, digest.FromString(l))
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hexOf(s string) string { return digest.FromString(s).Encoded() }

// legacySave is an archive as docker's classic image store saves it: a
// folder per layer, a second use of a layer linked to the first.
func legacySave(t *testing.T) (archive []byte, config string, layers []string) {
	layers = []string{"base layer tar", "app layer tar", "base layer tar"}
	config = configOf(t, layers...)
	manifest := fmt.Sprintf(`[{"Config":"%s.json","RepoTags":["myapp:dev","myapp:latest"],"Layers":["%s/layer.tar","%s/layer.tar","%s/layer.tar"]}]`, hexOf(config), hexA, hexB, strings.Repeat("c", 64))
	archive = archiveOf(t,
		saveFile{name: hexA + "/", data: ""},
		saveFile{name: hexA + "/VERSION", data: "1.0"},
		saveFile{name: hexA + "/json", data: "{}"},
		saveFile{name: hexA + "/layer.tar", data: layers[0]},
		saveFile{name: hexB + "/layer.tar", data: layers[1]},
		saveFile{name: strings.Repeat("c", 64) + "/layer.tar", link: "../" + hexA + "/layer.tar"},
		saveFile{name: hexOf(config) + ".json", data: config},
		saveFile{name: "manifest.json", data: manifest},
		saveFile{name: "repositories", data: "{}"},
	)
	return archive, config, layers
}

// stageOf runs stageArchive and returns the stage's files by name
// (relative to the stage), in order. A stage that was made whole ends
// with the list of images, and a proper end of archive.
func stageOf(t *testing.T, archive []byte, images []LoadImage) (map[string]string, []string, error) {
	t.Helper()
	var out bytes.Buffer
	err := stageArchive(struct{ io.Reader }{bytes.NewReader(archive)}, &out, "docker-rke/load/abc", images)
	files := map[string]string{}
	var order []string
	tr := tar.NewReader(&out)
	for {
		h, rerr := tr.Next()
		if rerr != nil {
			if err == nil && rerr != io.EOF {
				t.Errorf("the stage does not end as an archive should: %v", rerr)
			}
			break
		}
		if h.Typeflag != tar.TypeReg {
			t.Errorf("%s: an entry of type %c: the engine makes the folders", h.Name, h.Typeflag)
		}
		data, _ := io.ReadAll(tr)
		rel, ok := strings.CutPrefix(h.Name, "docker-rke/load/abc/")
		if !ok {
			t.Errorf("%s is outside the stage", h.Name)
		}
		files[rel] = string(data)
		order = append(order, rel)
	}
	if err == nil && (len(order) == 0 || order[len(order)-1] != "images") {
		t.Errorf("the stage's last file is not the list of images: %v", order)
	}
	return files, order, err
}

// layoutOf reads an index-only layout: its index and its files.
func layoutOf(t *testing.T, data string) (ocispec.Index, map[string]string) {
	t.Helper()
	files := map[string]string{}
	tr := tar.NewReader(strings.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeReg {
			files[h.Name] = string(b)
		}
	}
	var idx ocispec.Index
	if err := json.Unmarshal([]byte(files["index.json"]), &idx); err != nil {
		t.Fatalf("index.json: %v (%q)", err, files["index.json"])
	}
	return idx, files
}

func TestStageArchiveLegacy(t *testing.T) {
	archive, config, layers := legacySave(t)
	id := "sha256:" + hexOf(config)
	imgs := []LoadImage{{Name: "docker.io/library/myapp:dev", ID: id}, {Name: "docker.io/library/myapp:latest", ID: id}}
	files, _, err := stageOf(t, archive, imgs)
	if err != nil {
		t.Fatal(err)
	}
	// Blobs numbered in the archive's order; the link is no second copy.
	for n, data := range []string{layers[0], layers[1], config} {
		if files[fmt.Sprint(n)] != data {
			t.Errorf("blob %d: %q, want %q", n, files[fmt.Sprint(n)], data)
		}
	}
	if _, ok := files["3"]; ok {
		t.Error("a linked layer was sent twice")
	}
	// The layers are registered; the config travels in the layout.
	wantBlobs := fmt.Sprintf("0 sha256:%s %d\n1 sha256:%s %d\n", hexOf(layers[0]), len(layers[0]), hexOf(layers[1]), len(layers[1]))
	if files["blobs"] != wantBlobs {
		t.Errorf("blobs:\n%s\nwant:\n%s", files["blobs"], wantBlobs)
	}
	if files["images"] != "0 "+id+" docker.io/library/myapp:dev docker.io/library/myapp:latest\n" {
		t.Errorf("images %q: one import for both names of one ID", files["images"])
	}
	for _, gone := range []string{"hold.tar", "held"} {
		if _, ok := files[gone]; ok {
			t.Errorf("the stage has %s, which no node reads", gone)
		}
	}
	idx, layout := layoutOf(t, files["import-0.tar"])
	if layout["oci-layout"] != `{"imageLayoutVersion":"1.0.0"}` || len(idx.Manifests) != 2 || len(layout) != 4 {
		t.Fatalf("layout %v", layout)
	}
	if layout["blobs/sha256/"+hexOf(config)] != config {
		t.Errorf("the layout lacks the config: %v", layout)
	}
	for i, img := range imgs {
		d := idx.Manifests[i]
		if d.Annotations[annotationContainerdImage] != img.Name || d.MediaType != mediaTypeDockerManifest || d.Digest != idx.Manifests[0].Digest {
			t.Errorf("index entry %d: %+v", i, d)
		}
	}
	// The manifest written for it: docker's media types, the layers as
	// the config's diff IDs.
	raw := layout["blobs/sha256/"+idx.Manifests[0].Digest.Encoded()]
	if digest.FromString(raw) != idx.Manifests[0].Digest || int64(len(raw)) != idx.Manifests[0].Size {
		t.Fatalf("manifest blob %q does not match its descriptor", raw)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != 2 || m.Config.Digest.String() != id || m.Config.MediaType != mediaTypeDockerConfig || len(m.Layers) != 3 {
		t.Fatalf("manifest %s", raw)
	}
	for i, l := range m.Layers {
		if l.Digest != digest.FromString(layers[i]) || l.Size != int64(len(layers[i])) || l.MediaType != mediaTypeDockerLayer {
			t.Errorf("layer %d: %+v", i, l)
		}
	}
}

func gzipOf(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// ociSave is an archive as newer engines save it: an OCI layout, its
// manifest among the blobs, with manifest.json beside it.
func ociSave(t *testing.T) (archive []byte, manifest, config string) {
	layer := gzipOf(t, "a layer tar")
	config = configOf(t, "a layer tar")
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString(config), Size: int64(len(config))},
		Layers:    []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString(layer), Size: int64(len(layer))}},
	}
	m.SchemaVersion = 2
	mf, _ := json.Marshal(m)
	manifest = string(mf)
	saveMF := fmt.Sprintf(`[{"Config":"blobs/sha256/%s","RepoTags":["example.com/app:2"],"Layers":["blobs/sha256/%s"]}]`, hexOf(config), hexOf(layer))
	archive = archiveOf(t,
		saveFile{name: "blobs/sha256/" + hexOf(layer), data: layer},
		saveFile{name: "blobs/sha256/" + hexOf(config), data: config},
		saveFile{name: "blobs/sha256/" + hexOf(manifest), data: manifest},
		saveFile{name: "index.json", data: `{"schemaVersion":2,"manifests":[]}`},
		saveFile{name: "manifest.json", data: saveMF},
		saveFile{name: "oci-layout", data: `{"imageLayoutVersion":"1.0.0"}`},
	)
	return archive, manifest, config
}

func TestStageArchiveOCI(t *testing.T) {
	archive, manifest, config := ociSave(t)
	img := LoadImage{Name: "example.com/app:2", ID: "sha256:" + hexOf(manifest)}
	files, _, err := stageOf(t, archive, []LoadImage{img})
	if err != nil {
		t.Fatal(err)
	}
	// The archive's own manifest travels in the layout, as it is, with
	// the config; the layer alone is registered.
	if want := "0 sha256:"; !strings.HasPrefix(files["blobs"], want) || strings.Count(files["blobs"], "\n") != 1 {
		t.Errorf("blobs:\n%s\nwant the layer alone", files["blobs"])
	}
	idx, layout := layoutOf(t, files["import-0.tar"])
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != digest.FromString(manifest) || idx.Manifests[0].MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("index %+v", idx)
	}
	if len(layout) != 4 || layout["blobs/sha256/"+hexOf(manifest)] != manifest || layout["blobs/sha256/"+hexOf(config)] != config {
		t.Errorf("the layout should carry the manifest and the config: %v", layout)
	}
	if idx.Manifests[0].Annotations[annotationContainerdImage] != img.Name {
		t.Errorf("import index %+v", idx)
	}
}

func TestStageArchiveErrors(t *testing.T) {
	legacy, config, layers := legacySave(t)
	id := "sha256:" + hexOf(config)
	dev := []LoadImage{{Name: "docker.io/library/myapp:dev", ID: id}}
	oci, _, _ := ociSave(t)
	// A blob whose name is not its digest.
	damaged := bytes.Replace(oci, []byte(configOf(t, "a layer tar")), []byte(strings.Replace(configOf(t, "a layer tar"), "amd64", "arm64", 1)), 1)
	// A layer that is not what the config says.
	wrongLayer := bytes.Replace(legacy, []byte(layers[1]), []byte("app layer taX"), 1)
	for _, tc := range []struct {
		name    string
		archive []byte
		images  []LoadImage
		want    string
	}{
		{"no manifest.json", archiveOf(t, saveFile{name: hexA + "/layer.tar", data: "x"}), dev, "no manifest.json"},
		{"not a tar", bytes.Repeat([]byte("not a tar "), 100), dev, "not a docker save archive"},
		{"damaged blob", damaged, []LoadImage{{Name: "example.com/app:2", ID: "x"}}, "does not hold what its name says"},
		{"wrong layer", wrongLayer, dev, "layer 2 is sha256:"},
		{"unnamed image", legacy, []LoadImage{{Name: "docker.io/library/other:1", ID: id}}, "image other:1: the archive's manifest.json does not name it"},
		{"missing layer", archiveOf(t, saveFile{name: hexOf(config) + ".json", data: config}, saveFile{name: "manifest.json", data: `[{"Config":"` + hexOf(config) + `.json","RepoTags":["myapp:dev"],"Layers":["` + hexA + `/layer.tar"]}]`}), dev, "does not hold"},
		{"truncated", legacy[:1500], dev, "not a docker save archive"},
	} {
		files, _, err := stageOf(t, tc.archive, tc.images)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if _, ok := files["blobs"]; ok {
			t.Errorf("%s: the stage got its lists: a node would register it", tc.name)
		}
	}
}

// TestCopyBlobKeepsJSON: JSON blobs (configs, manifests) stay in memory
// to be read, arriving in small pieces and after white space too; layers
// do not, so that they cannot use up the room the configs need.
func TestCopyBlobKeepsJSON(t *testing.T) {
	s := &stager{dir: "d", tw: tar.NewWriter(io.Discard), blobs: map[string]*stagedBlob{}, buf: make([]byte, 32)}
	layer := strings.Repeat("layer data ", 100)
	config := "\n  " + strings.Repeat(`{"a":1}`, 20)
	for _, f := range []saveFile{{name: hexA + "/layer.tar", data: layer}, {name: hexOf(config) + ".json", data: config}} {
		// Without WriterTo, as tar's reader: the 32-byte buffer is used.
		if err := s.copyBlob(f.name, int64(len(f.data)), struct{ io.Reader }{strings.NewReader(f.data)}); err != nil {
			t.Fatal(err)
		}
	}
	l, c := s.blobs[hexA+"/layer.tar"], s.blobs[hexOf(config)+".json"]
	if l.data != nil || string(l.magic) != layer[:8] || cap(l.magic) > 8 || l.digest != digest.FromString(layer) {
		t.Errorf("layer: data %d bytes, magic %q (cap %d), digest %s", len(l.data), l.magic, cap(l.magic), l.digest)
	}
	if string(c.data) != config || s.kept != int64(len(config)) {
		t.Errorf("config: data %q, %d bytes kept", c.data, s.kept)
	}
	// No room left: a config is not kept, and the image says why.
	s.kept = keptLimit
	big := `{"b":2}`
	if err := s.copyBlob(hexOf(big)+".json", int64(len(big)), strings.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if b := s.blobs[hexOf(big)+".json"]; b.data != nil {
		t.Errorf("kept %q beyond the bound", b.data)
	} else if err := checkDiffIDs(b, nil); err == nil || !strings.Contains(err.Error(), "64 MiB") {
		t.Errorf("a config beyond the bound: %v", err)
	}
}

// TestStageArchiveShapes: archives as other tools and engines write them
// load too, and never get staged twice.
func TestStageArchiveShapes(t *testing.T) {
	layers := []string{"base layer tar", "app layer tar"}
	config := configOf(t, layers...)
	other := configOf(t, layers[0])
	id, otherID := "sha256:"+hexOf(config), "sha256:"+hexOf(other)
	imgs := []LoadImage{{Name: "docker.io/library/myapp:dev", ID: id}, {Name: "docker.io/library/base:1", ID: otherID}}
	manifest := fmt.Sprintf(`[{"Config":"%s.json","RepoTags":["myapp:dev"],"Layers":["%s/layer.tar","%s/layer.tar"]},{"Config":"%s.json","RepoTags":["base:1"],"Layers":["%s/layer.tar"]}]`,
		hexOf(config), hexA, hexB, hexOf(other), strings.Repeat("d", 64))
	for _, tc := range []struct {
		name    string
		archive []byte
	}{
		// podman and skopeo: layers as HEX.tar, linked from HEX/layer.tar;
		// manifest.json first, names with ./, a blob path given twice.
		{"podman", archiveOf(t,
			saveFile{name: "./manifest.json", data: manifest},
			saveFile{name: "./" + hexOf(layers[0]) + ".tar", data: layers[0]},
			saveFile{name: hexOf(layers[1]) + ".tar", data: layers[1]},
			saveFile{name: hexOf(layers[1]) + ".tar", data: layers[1]},
			saveFile{name: hexA + "/layer.tar", link: "../" + hexOf(layers[0]) + ".tar"},
			saveFile{name: hexB + "/layer.tar", link: "../" + hexOf(layers[1]) + ".tar"},
			saveFile{name: strings.Repeat("d", 64) + "/layer.tar", link: "../" + hexOf(layers[0]) + ".tar"},
			saveFile{name: hexOf(config) + ".json", data: config},
			saveFile{name: hexOf(other) + ".json", data: other},
		)},
		// Two images sharing a layer, the second copy a hard link.
		{"hard link", func() []byte {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, f := range []saveFile{{name: hexA + "/layer.tar", data: layers[0]}, {name: hexB + "/layer.tar", data: layers[1]}, {name: hexOf(config) + ".json", data: config}, {name: hexOf(other) + ".json", data: other}, {name: "manifest.json", data: manifest}} {
				_ = tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
				_, _ = tw.Write([]byte(f.data))
			}
			_ = tw.WriteHeader(&tar.Header{Name: strings.Repeat("d", 64) + "/layer.tar", Typeflag: tar.TypeLink, Linkname: hexA + "/layer.tar"})
			_ = tw.Close()
			return buf.Bytes()
		}()},
	} {
		files, order, err := stageOf(t, tc.archive, imgs)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		// Two layers and two configs, each sent once and listed once.
		if n := len(slices.DeleteFunc(slices.Clone(order), func(f string) bool { return strings.Trim(f, "0123456789") != "" })); n != 4 {
			t.Errorf("%s: %d blobs staged, want 4: %v", tc.name, n, order)
		}
		for _, want := range []string{layers[0], layers[1]} {
			if c := strings.Count(files["blobs"], " "+digest.FromString(want).String()+" "); c != 1 {
				t.Errorf("%s: layer %q listed %d times:\n%s", tc.name, want, c, files["blobs"])
			}
		}
		if strings.Count(files["blobs"], "\n") != 2 {
			t.Errorf("%s: blobs other than the layers listed:\n%s", tc.name, files["blobs"])
		}
		if files["images"] != "0 "+id+" docker.io/library/myapp:dev\n1 "+otherID+" docker.io/library/base:1\n" {
			t.Errorf("%s: images %q", tc.name, files["images"])
		}
		idx, layout := layoutOf(t, files["import-1.tar"])
		var m ocispec.Manifest
		if len(idx.Manifests) != 1 || json.Unmarshal([]byte(layout["blobs/sha256/"+idx.Manifests[0].Digest.Encoded()]), &m) != nil || len(m.Layers) != 1 || m.Layers[0].Digest != digest.FromString(layers[0]) || layout["blobs/sha256/"+hexOf(other)] != other {
			t.Errorf("%s: the second image's layout: %+v %v", tc.name, idx, layout)
		}
	}
}

// errReader fails as an interrupted source does.
type errReader struct {
	r   io.Reader
	err error
}

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestStageArchiveInterrupted(t *testing.T) {
	archive, config, _ := legacySave(t)
	imgs := []LoadImage{{Name: "docker.io/library/myapp:dev", ID: "sha256:" + hexOf(config)}}
	// Cut inside the second layer's data (headers are 512 bytes).
	cut := bytes.Index(archive, []byte("app layer tar")) + 4
	if _, _, err := stageOf(t, archive[:cut], imgs); err == nil || !strings.Contains(err.Error(), "not a docker save archive") || !strings.Contains(err.Error(), "ends after 4 of its 13 bytes") {
		t.Errorf("cut inside a blob: %v", err)
	}
	// A source that stops (the load interrupted) says so, as it is.
	var out bytes.Buffer
	err := stageArchive(errReader{bytes.NewReader(archive[:cut]), context.Canceled}, &out, "docker-rke/load/abc", imgs)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "not a docker save archive") {
		t.Errorf("interrupted: %v", err)
	}
}

func TestIsBlobPath(t *testing.T) {
	for name, want := range map[string]bool{
		"blobs/sha256/" + hexA:          true,
		hexA + "/layer.tar":             true,
		hexA + ".json":                  true,
		hexA + "/json":                  false,
		"blobs/sha256/" + hexA[:10]:     false,
		"manifest.json":                 false,
		"blobs/sha512/" + hexA:          false,
		"x/" + hexA + ".json":           false,
		strings.ToUpper(hexA) + ".json": false,
	} {
		if got := isBlobPath(name); got != want {
			t.Errorf("isBlobPath(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestRegisterSession runs a node's part of a load (register.sh) with a
// fake ctr that records its calls and what it read: it lists the images
// the node holds, sweeps stages left by dead loads, and registers the
// stage its input names, as ctr succeeds and as its import or its ingest
// fails; it answers an unknown command and ends with its input.
func TestRegisterSession(t *testing.T) {
	requireTools(t, "sh", "xargs", "find", "ln")
	for _, fail := range []string{"", "import", "ingest"} {
		dir := t.TempDir()
		parent := filepath.Join(dir, "load")
		stage := filepath.Join(parent, "abc")
		stale := filepath.Join(parent, "dead")
		live := filepath.Join(parent, "other")
		content := filepath.Join(dir, "content")
		for _, d := range []string{stage, stale, live, filepath.Join(content, "blobs", "sha256")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// A stage an earlier docker rke left, with the names it held.
		if err := os.WriteFile(filepath.Join(stale, "held"), []byte("docker-rke-load-dead-0\n"), 0o444); err != nil {
			t.Fatal(err)
		}
		old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := os.Chtimes(stale, old, old); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			"0": "layer", "1": "layer2",
			"blobs":        fmt.Sprintf("0 %s 5\n1 %s 6\n", digest.FromString("layer"), digest.FromString("layer2")),
			"images":       "0 sha256:" + hexA + " docker.io/library/a:1 docker.io/library/a:2\n1 sha256:" + hexB + " docker.io/library/b:1\n",
			"import-0.tar": "layout 0", "import-1.tar": "layout 1",
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(stage, name), []byte(data), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		log := filepath.Join(dir, "calls")
		// The listing holds an image loaded before; the second import, or
		// every ingest, fails on request.
		fake := `#!/bin/sh
in=$(cat)
echo "$* <$in" >>` + log + `
case "$*:$in" in
*"images ls"*) printf 'REF TYPE DIGEST SIZE PLATFORMS LABELS\ndocker.io/library/old:1 x sha256:1 2.1 MiB linux/amd64 io.docker-rke.image-id=sha256:` + hexB + `,io.cri-containerd.pinned=pinned\n' ;;
*import*:"layout 1") [ "$FAIL" = import ] && { echo 'ctr: injected' >&2; exit 3; } ;;
*"content ingest"*) [ "$FAIL" = ingest ] && { echo 'ctr: ingest injected' >&2; exit 5; } ;;
esac
exit 0
`
		bin := filepath.Join(dir, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, "ctr"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		args := sessionCommand()
		args[len(args)-4], args[len(args)-3] = parent, content
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAIL="+fail)
		cmd.Stdin = strings.NewReader("register " + stage + "\nbogus\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fail %q: the session did not end well with its input: %v: %s", fail, err, out)
		}
		said := strings.Split(strings.TrimSpace(string(out)), "\n")
		listed := slices.Index(said, "docker-rke: listed 0")
		if listed < 0 {
			t.Fatalf("fail %q: no listing:\n%s", fail, out)
		}
		if have := parseImageList(strings.Join(said[:listed], "\n")); have["docker.io/library/old:1"] != "sha256:"+hexB || len(have) != 1 {
			t.Errorf("fail %q: the listing says %v", fail, have)
		}
		if last := said[len(said)-1]; last != "docker-rke: unknown command bogus" {
			t.Errorf("fail %q: the unknown command got %q", fail, last)
		}
		registered := said[len(said)-2]
		messages := strings.Join(said[listed+1:len(said)-2], "\n")
		raw, _ := os.ReadFile(log)
		calls := string(raw)
		for _, gone := range []string{stage, stale} {
			if _, serr := os.Stat(gone); !os.IsNotExist(serr) {
				t.Errorf("fail %q: %s is still there", fail, path.Base(gone))
			}
		}
		if _, serr := os.Stat(live); serr != nil {
			t.Errorf("fail %q: a live load's stage went: %v", fail, serr)
		}
		if !strings.Contains(calls, "-n k8s.io images rm docker-rke-load-dead-0 <") {
			t.Errorf("fail %q: the names held for a dead stage stayed:\n%s", fail, calls)
		}
		lines := strings.Split(strings.TrimSpace(calls), "\n")
		import0 := slices.Index(lines, "-n k8s.io images import --local --all-platforms --no-unpack --label io.docker-rke.image-id=sha256:"+hexA+" --label io.cri-containerd.pinned=pinned - <layout 0")
		if import0 < 0 {
			t.Fatalf("fail %q: the first image was not imported, unpacked nothing:\n%s", fail, calls)
		}
		taken := slices.IndexFunc(lines, func(l string) bool {
			return strings.Contains(l, "images rm") && strings.Contains(l, "docker.io/library/a:1")
		})
		switch fail {
		case "import":
			// The second import fails: nothing is registered, and the
			// names both imports gave or were giving are taken back.
			if registered != "docker-rke: registered 3" || !strings.Contains(messages, "ctr: injected") || strings.Contains(calls, "content ingest") {
				t.Errorf("failing import: %q %q, calls %q", registered, messages, calls)
			}
			if want := "-n k8s.io images rm docker.io/library/a:1 docker.io/library/a:2 docker.io/library/b:1 <"; lines[len(lines)-1] != want {
				t.Errorf("failing import: last call %q, want %q", lines[len(lines)-1], want)
			}
			continue
		case "ingest":
			if registered == "docker-rke: registered 0" || !strings.HasPrefix(registered, "docker-rke: registered ") || !strings.Contains(messages, "ingest injected") || !strings.Contains(messages, "no longer holds docker.io/library/a:1") {
				t.Errorf("failing ingest: %q %q, calls %q", registered, messages, calls)
			}
			if taken < 0 || taken != len(lines)-1 {
				t.Errorf("failing ingest: the images named were not taken back last:\n%s", calls)
			}
		default:
			if registered != "docker-rke: registered 0" || messages != "" {
				t.Fatalf("registering said %q, %q", registered, messages)
			}
			if taken >= 0 {
				t.Errorf("a load that worked took its images back:\n%s", calls)
			}
			if !strings.Contains(calls, "image-id=sha256:"+hexB+" --label io.cri-containerd.pinned=pinned - <layout 1") {
				t.Errorf("the second image was not imported:\n%s", calls)
			}
		}
		// Layers linked into the content store under their digests, and
		// registered only once every image is named.
		for _, b := range []string{"layer", "layer2"} {
			if got, _ := os.ReadFile(filepath.Join(content, "blobs", "sha256", digest.FromString(b).Encoded())); string(got) != b {
				t.Errorf("fail %q: blob %s in the content store: %q", fail, b, got)
			}
		}
		for i, want := range []string{
			"-n k8s.io content ingest --expected-digest " + digest.FromString("layer").String() + " --expected-size 5 docker-rke-load-abc-0 <layer",
			"-n k8s.io content ingest --expected-digest " + digest.FromString("layer2").String() + " --expected-size 6 docker-rke-load-abc-1 <layer2",
		} {
			j := slices.Index(lines, want)
			if j < 0 {
				t.Errorf("fail %q: calls lack %q:\n%s", fail, want, calls)
			} else if j < import0+2 {
				t.Errorf("fail %q: layer %d registered before the images were named:\n%s", fail, i, calls)
			}
		}
	}
}
