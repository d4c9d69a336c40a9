package dind

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	hexA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	hexB = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

func TestNormalizeImageName(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "myapp:dev", want: "docker.io/library/myapp:dev"},
		{in: "myapp", want: "docker.io/library/myapp:latest"},
		{in: "docker-rke-e2e/web:dev", want: "docker.io/docker-rke-e2e/web:dev"},
		{in: "docker.io/library/myapp:dev", want: "docker.io/library/myapp:dev"},
		{in: "localhost:5000/team/app", want: "localhost:5000/team/app:latest"},
		{in: "registry.example.com/app:1.2", want: "registry.example.com/app:1.2"},
		{in: "MyApp:dev", err: `image "MyApp:dev" is not a valid image name`},
		{in: "myapp@sha256:" + hexA, err: "is named by digest"},
		{in: "", err: "not a valid image name"},
	} {
		got, err := NormalizeImageName(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestLoadImageShort(t *testing.T) {
	img := LoadImage{Name: "docker.io/library/myapp:dev", ID: "sha256:" + hexA, Size: 102_400_000}
	if got := img.Short(); got != "myapp:dev" {
		t.Errorf("Short: %q", got)
	}
	if got, want := img.describe(), "myapp:dev (sha256:0123456789ab…, 102MB)"; got != want {
		t.Errorf("describe: %q, want %q", got, want)
	}
}

func TestConfigDigest(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: hexA + ".json", want: "sha256:" + hexA},                   // docker's own format (engines before 25)
		{in: "blobs/sha256/" + hexA, want: "sha256:" + hexA},           // OCI layout (engines 25 and later)
		{in: "./blobs/sha256/" + hexB, want: "sha256:" + hexB},         // as tar writes it sometimes
		{in: "blobs/sha512/" + hexA, err: "names no config digest"},    // not a sha256 blob
		{in: "config.json", err: "invalid"},                            // not a digest
		{in: "abc.json", err: "invalid"},                               // too short
		{in: strings.ToUpper(hexA) + ".json", err: "invalid"},          // digests are lower case
		{in: "", err: "names no config digest"},                        // missing
		{in: "other/" + hexA + ".json", err: "names no config digest"}, // in a directory
	} {
		got, err := configDigest(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errNotSaveArchive) {
				t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestArchiveImages(t *testing.T) {
	sizes := map[string]int64{
		hexA + ".json": 1000, "l1/layer.tar": 5000, "l2/layer.tar": 7000,
		"blobs/sha256/" + hexB: 500, "blobs/sha256/" + hexA: 9000,
	}
	for _, tc := range []struct {
		name     string
		manifest string
		want     []LoadImage
		err      string
	}{
		{
			name:     "docker format, two names",
			manifest: `[{"Config":"` + hexA + `.json","RepoTags":["myapp:dev","myapp:latest"],"Layers":["l1/layer.tar","l2/layer.tar"]}]`,
			want: []LoadImage{
				{Source: "myapp:dev", Name: "docker.io/library/myapp:dev", ID: "sha256:" + hexA, Size: 13000},
				{Source: "myapp:latest", Name: "docker.io/library/myapp:latest", ID: "sha256:" + hexA, Size: 13000},
			},
		},
		{
			name:     "OCI layout, two images",
			manifest: `[{"Config":"blobs/sha256/` + hexB + `","RepoTags":["example.com/web:1"],"Layers":["blobs/sha256/` + hexA + `"]},{"Config":"` + hexA + `.json","RepoTags":["tool:2"],"Layers":[]}]`,
			want: []LoadImage{
				{Source: "example.com/web:1", Name: "example.com/web:1", ID: "sha256:" + hexB, Size: 9500},
				{Source: "tool:2", Name: "docker.io/library/tool:2", ID: "sha256:" + hexA, Size: 1000},
			},
		},
		{
			name:     "a name twice",
			manifest: `[{"Config":"` + hexA + `.json","RepoTags":["myapp:dev","docker.io/library/myapp:dev"]}]`,
			want:     []LoadImage{{Source: "myapp:dev", Name: "docker.io/library/myapp:dev", ID: "sha256:" + hexA, Size: 1000}},
		},
		{name: "saved by ID", manifest: `[{"Config":"` + hexA + `.json","RepoTags":null,"Layers":["l1/layer.tar"]}]`, err: "image sha256:" + hexA + " has no name (saved by ID)"},
		{name: "one of two without a name", manifest: `[{"Config":"` + hexA + `.json","RepoTags":["a:1"]},{"Config":"` + hexB + `.json"}]`, err: "image sha256:" + hexB + " has no name"},
		{name: "empty", manifest: `[]`, err: "lists no image"},
		{name: "not JSON", manifest: `{`, err: "not a docker save archive"},
		{name: "bad config", manifest: `[{"Config":"x","RepoTags":["a:1"]}]`, err: `Config "x" names no config digest`},
		{name: "bad name", manifest: `[{"Config":"` + hexA + `.json","RepoTags":["A:1"]}]`, err: `image "A:1" is not a valid image name`},
	} {
		got, err := archiveImages([]byte(tc.manifest), sizes)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", tc.name, got, err, tc.want)
		}
	}
}

// tarOf is a tar archive of files, in order.
func tarOf(t *testing.T, files ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadArchiveIndex(t *testing.T) {
	manifest := `[{"Config":"` + hexA + `.json","RepoTags":["myapp:dev"],"Layers":["l1/layer.tar"]}]`
	good := tarOf(t, [2]string{hexA + ".json", "{}"}, [2]string{"l1/layer.tar", strings.Repeat("x", 3000)}, [2]string{"manifest.json", manifest}, [2]string{"repositories", "{}"})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(good)
	_ = zw.Close()
	for _, tc := range []struct {
		name string
		data []byte
		err  string
	}{
		{name: "docker save", data: good},
		{name: "gzip", data: gz.Bytes(), err: "gzip-compressed: decompress it first"},
		{name: "no manifest", data: tarOf(t, [2]string{"index.json", "{}"}), err: "it has no manifest.json"},
		{name: "not a tar", data: []byte(strings.Repeat("hello world\n", 100)), err: "not a docker save archive"},
		{name: "empty", data: nil, err: "it has no manifest.json"},
	} {
		for _, seek := range []bool{true, false} {
			var r io.Reader = bytes.NewReader(tc.data)
			if !seek {
				r = io.MultiReader(r) // hides Seek
			}
			m, sizes, err := readArchiveIndex(r)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%s (seek %v): error %v, want one containing %q", tc.name, seek, err, tc.err)
				}
				continue
			}
			if err != nil || string(m) != manifest || sizes["l1/layer.tar"] != 3000 || sizes[hexA+".json"] != 2 {
				t.Errorf("%s (seek %v): %q %v %v", tc.name, seek, m, sizes, err)
			}
		}
	}
}

func TestArchiveImagesFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.tar")
	manifest := `[{"Config":"blobs/sha256/` + hexA + `","RepoTags":["myapp:dev"],"Layers":["blobs/sha256/` + hexB + `"]}]`
	if err := os.WriteFile(file, tarOf(t, [2]string{"blobs/sha256/" + hexA, "{}"}, [2]string{"blobs/sha256/" + hexB, "layer"}, [2]string{"manifest.json", manifest}), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := ArchiveImages(file)
	if err != nil {
		t.Fatal(err)
	}
	want := []LoadImage{{Source: "myapp:dev", Name: "docker.io/library/myapp:dev", ID: "sha256:" + hexA, Size: 7}}
	if !reflect.DeepEqual(src.Images, want) || !src.Whole || src.What != "archive "+file {
		t.Errorf("source %+v", src)
	}
	if _, err := ArchiveImages(filepath.Join(dir, "missing.tar")); err == nil || !strings.Contains(err.Error(), "missing.tar") {
		t.Errorf("missing archive: %v", err)
	}
}

func TestParseImageList(t *testing.T) {
	out := `REF                                   TYPE                                                 DIGEST                                                                  SIZE      PLATFORMS   LABELS 
docker.io/library/myapp:dev           application/vnd.docker.distribution.manifest.v2+json sha256:1111111111111111111111111111111111111111111111111111111111111111 102.3 MiB linux/amd64 io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned,io.docker-rke.image-id=sha256:` + hexA + ` 
docker.io/docker-rke/pause:3.10       application/vnd.docker.distribution.manifest.v2+json sha256:2222222222222222222222222222222222222222222222222222222222222222 1.5 MiB   linux/amd64 io.cri-containerd.image=managed 
docker.io/library/other:1             application/vnd.oci.image.manifest.v1+json           sha256:3333333333333333333333333333333333333333333333333333333333333333 2.0 KiB   -           - 
example.com/web:1                     application/vnd.oci.image.manifest.v1+json           sha256:4444444444444444444444444444444444444444444444444444444444444444 0.0 B     -           io.docker-rke.image-id=sha256:` + hexB + ` 
time="2025-01-01T00:00:00Z" level=error msg="failed calculating size for image x"
`
	want := map[string]string{
		"docker.io/library/myapp:dev": "sha256:" + hexA,
		"example.com/web:1":           "sha256:" + hexB,
	}
	if got := parseImageList(out); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := parseImageList(""); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestNeeds(t *testing.T) {
	a := LoadImage{Name: "docker.io/library/a:1", ID: "sha256:" + hexA}
	b := LoadImage{Name: "docker.io/library/b:1", ID: "sha256:" + hexB}
	for _, tc := range []struct {
		name       string
		have       map[string]string
		need, skip []LoadImage
	}{
		{name: "fresh node", have: nil, need: []LoadImage{a, b}},
		{name: "has both", have: map[string]string{a.Name: a.ID, b.Name: b.ID}, skip: []LoadImage{a, b}},
		{name: "has an older a", have: map[string]string{a.Name: "sha256:" + hexB, b.Name: b.ID}, need: []LoadImage{a}, skip: []LoadImage{b}},
		{name: "same ID under another name", have: map[string]string{"docker.io/library/c:1": a.ID}, need: []LoadImage{a, b}},
	} {
		need, skip := needs([]LoadImage{a, b}, tc.have)
		if !reflect.DeepEqual(need, tc.need) || !reflect.DeepEqual(skip, tc.skip) {
			t.Errorf("%s: need %v skip %v; want %v, %v", tc.name, need, skip, tc.need, tc.skip)
		}
	}
}

func TestGroupNodes(t *testing.T) {
	a := LoadImage{Name: "docker.io/library/a:1", ID: "sha256:" + hexA}
	b := LoadImage{Name: "docker.io/library/b:1", ID: "sha256:" + hexB}
	all := []LoadImage{a, b}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		need   [][]LoadImage
		failed []error
		whole  bool
		want   []loadGroup
	}{
		{
			name: "every node needs everything: one save",
			need: [][]LoadImage{all, all, all}, failed: make([]error, 3),
			want: []loadGroup{{images: all, nodes: []int{0, 1, 2}}},
		},
		{
			name: "different subsets: a save per subset",
			need: [][]LoadImage{all, {b}, nil, {b}, all}, failed: make([]error, 5),
			want: []loadGroup{{images: all, nodes: []int{0, 4}}, {images: []LoadImage{b}, nodes: []int{1, 3}}},
		},
		{
			name: "failed nodes and nodes that need nothing are left out",
			need: [][]LoadImage{nil, all, nil}, failed: []error{boom, nil, nil},
			want: []loadGroup{{images: all, nodes: []int{1}}},
		},
		{
			name: "an archive is read once for every node that needs any of it",
			need: [][]LoadImage{{a}, {b}, nil, all}, failed: make([]error, 4), whole: true,
			want: []loadGroup{{images: all, nodes: []int{0, 1, 3}}},
		},
		{name: "nothing to do", need: [][]LoadImage{nil, nil}, failed: make([]error, 2)},
	} {
		if got := groupNodes(all, tc.need, tc.failed, tc.whole); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestSelectNodes(t *testing.T) {
	c := ClusterInfo{Name: "c1", NodeList: []NodeInfo{
		{Name: "c1-node1", Container: "rke-dind-c1-node1", State: "running"},
		{Name: "c1-node2", Container: "rke-dind-c1-node2", State: "running"},
		{Name: "c1-node3", Container: "rke-dind-c1-node3", State: "exited"},
	}}
	names := func(ns []NodeInfo) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		nodes []string
		want  []string
		err   []string
	}{
		{name: "named", nodes: []string{"c1-node2", "c1-node1", "c1-node2"}, want: []string{"c1-node2", "c1-node1"}},
		{name: "unknown", nodes: []string{"c1-node9"}, err: []string{"cluster c1 has no node c1-node9; its nodes: c1-node1, c1-node2, c1-node3"}},
		{name: "stopped", nodes: []string{"c1-node3"}, err: []string{"cluster c1 node c1-node3 (container rke-dind-c1-node3) is exited, not running", "docker start rke-dind-c1-node3"}},
		{name: "every node, one stopped", err: []string{"c1-node3"}},
		{name: "both problems at once", nodes: []string{"x", "c1-node3"}, err: []string{"no node x", "c1-node3 (container rke-dind-c1-node3) is exited"}},
	} {
		got, err := selectNodes(c, tc.nodes)
		if len(tc.err) > 0 {
			for _, want := range tc.err {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %v, want one containing %q", tc.name, err, want)
				}
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(names(got), tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, names(got), err, tc.want)
		}
	}
	c.NodeList[2].State = "running"
	if got, err := selectNodes(c, nil); err != nil || len(got) != 3 {
		t.Errorf("every node: %v, %v", names(got), err)
	}
}

// failAfter takes n bytes, then fails.
type failAfter struct {
	n   int
	got bytes.Buffer
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.got.Len()+len(p) > f.n {
		return 0, errors.New("import stopped")
	}
	return f.got.Write(p)
}

func TestFanOut(t *testing.T) {
	var a, b bytes.Buffer
	bad := &failAfter{n: 10}
	f := &fanOut{writers: []io.Writer{&a, bad, &b}, errs: make([]error, 3)}
	data := strings.Repeat("0123456789", 1000)
	// Small writes, as a stream comes.
	if _, err := io.CopyBuffer(f, strings.NewReader(data), make([]byte, 7)); err != nil {
		t.Fatal(err)
	}
	if a.String() != data || b.String() != data {
		t.Errorf("the live writers got %d and %d bytes, want %d", a.Len(), b.Len(), len(data))
	}
	if f.errs[1] == nil || f.errs[0] != nil || f.errs[2] != nil {
		t.Errorf("errs %v", f.errs)
	}
	// With none left the copy stops.
	f = &fanOut{writers: []io.Writer{&failAfter{n: 5}}, errs: make([]error, 1)}
	if _, err := io.Copy(f, strings.NewReader(data)); !errors.Is(err, errNoReader) {
		t.Errorf("no reader left: %v", err)
	}
}

func TestLoadResults(t *testing.T) {
	a := LoadImage{Name: "docker.io/library/a:1", ID: "sha256:" + hexA}
	b := LoadImage{Name: "docker.io/library/b:1", ID: "sha256:" + hexB}
	nodes := []NodeInfo{{Name: "n1", Container: "c1"}, {Name: "n2", Container: "c2"}, {Name: "n3", Container: "c3"}, {Name: "n4", Container: "c4"}}
	boom := errors.New("boom")
	got := loadResults("cl", nodes, []LoadImage{a, b},
		[][]LoadImage{{a, b}, {b}, nil, {a}},
		[]error{nil, boom, boom, nil})
	want := map[string]LoadAction{
		"n1 a": Loaded, "n1 b": Loaded, // fresh node
		"n2 a": Skipped, "n2 b": Failed, // its import failed: only what it needed failed
		"n3 a": Failed, "n3 b": Failed, // it could not list its images
		"n4 a": Loaded, "n4 b": Skipped,
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(got), len(want), got)
	}
	for _, r := range got {
		key := r.Node + " " + strings.TrimSuffix(r.Image, ":1")
		if r.Cluster != "cl" || r.Container != "c"+r.Node[1:] || r.Action != want[key] {
			t.Errorf("%s: %+v, want %s", key, r, want[key])
		}
	}
}
