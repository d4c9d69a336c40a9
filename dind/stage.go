package dind

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/docker-rke/docker-rke/internal/tarball"
)

// Why a load stages files rather than streaming the archive to ctr: a
// docker save archive piped into `ctr images import` in each node costs,
// per node, the exec stream through the engine, ctr hashing every byte,
// and containerd's content API copying it again before the unpack; on a
// 2-core machine three nodes took 7x one docker save of the image. Sent
// instead as an archive the engine itself extracts into the node's /var
// (one copy, no exec stream), each blob already named by a digest checked
// here on the way, a node only links the files into containerd's content
// store and registers them without reading them (containerd's shared
// content policy trusts a blob its store already has: the digest was
// checked here). The layouts that name the images, with their manifests
// and configs, are written here, small, once every blob's digest is
// known; a node imports them before it registers the layers, so that
// containerd's garbage collector counts each layer as wanted the moment it
// is registered. Nothing is unpacked: the CRI unpacks an image on a node
// when it first creates a container of it there.

// Layout of a stage, under the node's /var/lib (the same filesystem as
// containerd's content store, so that its files can be hard-linked there):
//
//	docker-rke/load/ID/N             the archive's blobs, numbered
//	docker-rke/load/ID/blobs         "N DIGEST SIZE" per layer to register
//	docker-rke/load/ID/images        "K IMAGE-ID NAME..." per image ID
//	docker-rke/load/ID/import-K.tar  an OCI layout of its manifests and
//	                                 config, naming its images
const (
	stageRoot   = "/var/lib"
	stageParent = "docker-rke/load"
	// contentStore is containerd's content store in a node (its default
	// root: the node's config does not move it).
	contentStore = "/var/lib/containerd/io.containerd.content.v1.content"
	// keptLimit bounds the memory kept for the archive's JSON blobs
	// (manifests and configs, read to name the layers), whatever an
	// archive holds.
	keptLimit = 64 << 20
	// maxBlobs bounds the blobs and links an archive may have.
	maxBlobs = 100000
)

// Media types of docker's own image format, which containerd's importer
// also gives to images of docker's legacy save format.
const (
	mediaTypeDockerManifest   = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerConfig     = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayer      = "application/vnd.docker.image.rootfs.diff.tar"
	mediaTypeDockerLayerGzip  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	annotationContainerdImage = "io.containerd.image.name"
)

// stagedBlob is one file of the archive sent to the nodes.
type stagedBlob struct {
	n      int
	digest digest.Digest
	size   int64
	// magic is the blob's first bytes: how its compression is told.
	magic []byte
	// data is the whole blob when it is small (manifests, configs).
	data []byte
}

// stager turns a docker save archive into a stage archive (see above).
type stager struct {
	dir    string // the stage, relative to stageRoot
	tw     *tar.Writer
	blobs  map[string]*stagedBlob // by the archive's path
	links  map[string]string      // an archive path to the path it links
	order  []*stagedBlob
	saveMF []byte // the archive's manifest.json
	kept   int64
	// now stamps the stage's files: a node removes stages an hour old,
	// left by loads that died, and must not take a live one for one.
	now time.Time
	buf []byte
}

// stageArchive reads a docker save archive (docker's legacy format or
// the OCI layout of newer engines) from r and writes to w the archive a
// node's engine extracts under stageRoot: every blob under dir, its
// digest checked, then the lists and the index-only layouts that make
// images of them, the list of images last. images are those to make, by
// name (their IDs become labels); each must be in the archive. An archive
// that is damaged or not a docker save archive is an error, and the stage
// then lacks its lists: a node registers nothing of it.
//
// The stage has no directory entries: the engine makes the missing
// folders itself, with the node's clock (a node removes stages an hour
// old, left by loads that died, by their folder's time) and without
// touching the node's existing /var/lib/docker-rke.
func stageArchive(r io.Reader, w io.Writer, dir string, images []LoadImage) error {
	s := &stager{dir: dir, tw: tar.NewWriter(w), blobs: map[string]*stagedBlob{}, links: map[string]string{}, now: time.Now(), buf: make([]byte, 1<<20)}
	if err := s.copyBlobs(tar.NewReader(r)); err != nil {
		return err
	}
	if s.saveMF == nil {
		return fmt.Errorf("%w: it has no manifest.json", errNotSaveArchive)
	}
	entries, err := s.plan(images)
	if err != nil {
		return err
	}
	if err := tarball.Add(s.tw, s.stamp(entries)...); err != nil {
		return err
	}
	return s.tw.Close()
}

// stamp gives entries the stage's time.
func (s *stager) stamp(entries []tarball.Entry) []tarball.Entry {
	for i := range entries {
		entries[i].ModTime = s.now
	}
	return entries
}

// copyBlobs passes the archive's blobs to the stage, numbered, hashing
// each on the way, and keeps manifest.json and the links between blob
// paths. A second entry at a blob path is skipped; links and blobs are
// bounded in number, whatever the archive says.
func (s *stager) copyBlobs(tr *tar.Reader) error {
	for {
		h, err := tr.Next()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrFieldTooLong), errors.Is(err, tar.ErrInsecurePath):
			return fmt.Errorf("%w: %v", errNotSaveArchive, err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%w: it ends before its end: %v", errNotSaveArchive, err)
		case err != nil:
			// The source's own failure (an interrupted load, an engine
			// that stopped sending) as it is.
			return fmt.Errorf("reading the archive: %w", err)
		}
		name := path.Clean(h.Name)
		if len(s.links)+len(s.order) >= maxBlobs {
			return fmt.Errorf("%w: more than %d blobs and links", errNotSaveArchive, maxBlobs)
		}
		switch {
		case !isBlobPath(name), s.blobs[name] != nil || s.links[name] != "":
			if h.Typeflag == tar.TypeReg && name == "manifest.json" {
				if s.saveMF, err = io.ReadAll(io.LimitReader(tr, 16<<20)); err != nil {
					return fmt.Errorf("reading manifest.json: %w", err)
				}
			}
		case h.Typeflag == tar.TypeSymlink:
			// docker's legacy format links a layer saved twice to its
			// first copy; podman's links each HEX/layer.tar to HEX.tar.
			s.links[name] = path.Join(path.Dir(name), h.Linkname)
		case h.Typeflag == tar.TypeLink:
			s.links[name] = path.Clean(h.Linkname)
		case h.Typeflag == tar.TypeReg:
			if err := s.copyBlob(name, h.Size, tr); err != nil {
				return err
			}
		}
	}
}

// isBlobPath says whether an archive path holds a blob: blobs/sha256/HEX
// in the OCI layout, HEX/layer.tar and HEX.json (a config) in docker's
// legacy format, HEX.tar (a layer) in podman's and skopeo's.
func isBlobPath(name string) bool {
	dir, file := path.Split(name)
	switch {
	case dir == "blobs/sha256/":
		return isHex64(file)
	case file == "layer.tar":
		return isHex64(strings.TrimSuffix(dir, "/"))
	case dir == "":
		base, ext := strings.CutSuffix(file, ".json")
		if !ext {
			base, ext = strings.CutSuffix(file, ".tar")
		}
		return ext && isHex64(base)
	}
	return false
}

func isHex64(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// copyBlob streams one blob to the stage as file N and checks it against
// the digest its name gives, if it gives one.
func (s *stager) copyBlob(name string, size int64, r io.Reader) error {
	b := &stagedBlob{n: len(s.order), size: size}
	if err := s.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path.Join(s.dir, strconv.Itoa(b.n)), Mode: 0o444, Size: size, ModTime: s.now}); err != nil {
		return err
	}
	h := sha256.New()
	head := &capped{max: 8}
	keep := &jsonKeeper{room: keptLimit - s.kept}
	// Large writes: each goes to every node at once (fanOut).
	n, err := io.CopyBuffer(io.MultiWriter(s.tw, h, head, keep), r, s.buf)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s ends after %d of its %d bytes", errNotSaveArchive, name, n, size)
	}
	if err != nil {
		return fmt.Errorf("reading the archive: %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("%w: %s ends after %d of its %d bytes", errNotSaveArchive, name, n, size)
	}
	b.digest = digest.NewDigest(digest.SHA256, h)
	b.magic = head.b
	if keep.kept() {
		b.data = keep.b
		s.kept += size
	}
	if dir, file := path.Split(name); dir == "blobs/sha256/" || dir == "" {
		if want := "sha256:" + strings.TrimSuffix(strings.TrimSuffix(file, ".json"), ".tar"); b.digest.String() != want {
			return fmt.Errorf("the archive is damaged: %s does not hold what its name says (its digest is %s)", name, b.digest)
		}
	}
	s.blobs[name] = b
	s.order = append(s.order, b)
	return nil
}

// jsonKeeper keeps what is written to it while it looks like a JSON
// object (its first byte other than white space is '{') and fits room:
// manifests and configs, never layers.
type jsonKeeper struct {
	b       []byte
	room    int64
	dropped bool
	// tooBig says a JSON object was dropped for want of room.
	tooBig bool
}

func (j *jsonKeeper) Write(p []byte) (int, error) {
	if j.dropped {
		return len(p), nil
	}
	if t := bytes.TrimLeft(p, " \t\r\n\ufeff"); len(bytes.TrimLeft(j.b, " \t\r\n\ufeff")) == 0 && len(t) > 0 && t[0] != '{' {
		j.dropped, j.b = true, nil
		return len(p), nil
	}
	if int64(len(j.b)+len(p)) > j.room {
		j.dropped, j.tooBig, j.b = true, true, nil
		return len(p), nil
	}
	j.b = append(j.b, p...)
	return len(p), nil
}

func (j *jsonKeeper) kept() bool { return !j.dropped && len(j.b) > 0 }

// blob finds the blob at an archive path, following links.
func (s *stager) blob(name string) (*stagedBlob, error) {
	name = path.Clean(name)
	for hops := 0; hops < 8; hops++ {
		if b, ok := s.blobs[name]; ok {
			return b, nil
		}
		target, ok := s.links[name]
		if !ok {
			break
		}
		name = target
	}
	return nil, fmt.Errorf("%w: manifest.json names %s, which it does not hold", errNotSaveArchive, name)
}

// imagePlan is how one image is made in a node: its manifest (found in
// the archive, or written here for docker's legacy format) and the blobs
// it needs.
type imagePlan struct {
	img      LoadImage
	manifest ocispec.Descriptor
	// raw is the manifest's bytes: it travels in the layouts.
	raw []byte
	// blobs are the config and the layers.
	blobs []*stagedBlob
}

// plan works out every image from the archive's manifest.json and
// returns the stage's last entries: the blobs to register, the images to
// import, and their layouts.
func (s *stager) plan(images []LoadImage) ([]tarball.Entry, error) {
	var entries []saveManifest
	if err := json.Unmarshal(s.saveMF, &entries); err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %v", errNotSaveArchive, err)
	}
	var plans []imagePlan
	for _, img := range images {
		p, err := s.planImage(img, entries)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Short(), err)
		}
		plans = append(plans, p)
	}
	return s.stageLists(plans)
}

// planImage finds an image's entry of manifest.json by name and works out
// its manifest.
func (s *stager) planImage(img LoadImage, entries []saveManifest) (imagePlan, error) {
	i := slices.IndexFunc(entries, func(m saveManifest) bool {
		return slices.ContainsFunc(m.RepoTags, func(tag string) bool {
			name, err := NormalizeImageName(tag)
			return err == nil && name == img.Name
		})
	})
	if i < 0 {
		return imagePlan{}, errors.New("the archive's manifest.json does not name it")
	}
	config, err := s.blob(entries[i].Config)
	if err != nil {
		return imagePlan{}, err
	}
	layers := make([]*stagedBlob, len(entries[i].Layers))
	for j, l := range entries[i].Layers {
		if layers[j], err = s.blob(l); err != nil {
			return imagePlan{}, err
		}
	}
	if err := checkDiffIDs(config, layers); err != nil {
		return imagePlan{}, err
	}
	p := imagePlan{img: img, blobs: append([]*stagedBlob{config}, layers...)}
	if m := s.archiveManifest(config, layers); m != nil {
		p.manifest = ocispec.Descriptor{MediaType: manifestMediaType(m.data), Digest: m.digest, Size: m.size}
		p.raw = m.data
		return p, nil
	}
	p.raw, err = legacyManifest(config, layers)
	if err != nil {
		return imagePlan{}, err
	}
	p.manifest = ocispec.Descriptor{MediaType: mediaTypeDockerManifest, Digest: digest.FromBytes(p.raw), Size: int64(len(p.raw))}
	return p, nil
}

// checkDiffIDs checks the layers against the config's rootfs: as many,
// and each uncompressed one is its diff ID (a compressed one is checked
// by containerd when it unpacks it).
func checkDiffIDs(config *stagedBlob, layers []*stagedBlob) error {
	if config.data == nil {
		return fmt.Errorf("its config %s is not a JSON object docker rke could read (it reads up to %d MiB of an archive's JSON)", config.digest, keptLimit>>20)
	}
	var c ocispec.Image
	if err := json.Unmarshal(config.data, &c); err != nil {
		return fmt.Errorf("%w: its config %s: %v", errNotSaveArchive, config.digest, err)
	}
	if len(c.RootFS.DiffIDs) != len(layers) {
		return fmt.Errorf("the archive is damaged: its config lists %d layers, manifest.json %d", len(c.RootFS.DiffIDs), len(layers))
	}
	for i, l := range layers {
		if compression(l.magic) == "" && l.digest != c.RootFS.DiffIDs[i] {
			return fmt.Errorf("the archive is damaged: layer %d is %s, its config says %s", i+1, l.digest, c.RootFS.DiffIDs[i])
		}
	}
	return nil
}

// compression tells a layer's compression by its first bytes: "" for a
// plain tar.
func compression(magic []byte) string {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

// archiveManifest finds the manifest the archive itself holds for a
// config and its layers (the OCI layout of newer engines), or nil.
func (s *stager) archiveManifest(config *stagedBlob, layers []*stagedBlob) *stagedBlob {
	for _, b := range s.order {
		if b.data == nil || b == config {
			continue
		}
		var m ocispec.Manifest
		if json.Unmarshal(b.data, &m) != nil || m.Config.Digest != config.digest || len(m.Layers) != len(layers) {
			continue
		}
		same := true
		for i, l := range m.Layers {
			same = same && l.Digest == layers[i].digest
		}
		if same {
			return b
		}
	}
	return nil
}

// manifestMediaType is a manifest's own media type, OCI's when it does
// not say.
func manifestMediaType(data []byte) string {
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(data, &m) == nil && m.MediaType != "" {
		return m.MediaType
	}
	return ocispec.MediaTypeImageManifest
}

// legacyManifest writes the manifest of an image saved in docker's legacy
// format, which has none: docker's own media types, as containerd's
// importer gives them.
func legacyManifest(config *stagedBlob, layers []*stagedBlob) ([]byte, error) {
	m := ocispec.Manifest{
		MediaType: mediaTypeDockerManifest,
		Config:    ocispec.Descriptor{MediaType: mediaTypeDockerConfig, Digest: config.digest, Size: config.size},
		Layers:    make([]ocispec.Descriptor, len(layers)),
	}
	m.SchemaVersion = 2
	for i, l := range layers {
		mt := mediaTypeDockerLayer
		switch compression(l.magic) {
		case "gzip":
			mt = mediaTypeDockerLayerGzip
		case "zstd":
			mt = ocispec.MediaTypeImageLayerZstd
		}
		m.Layers[i] = ocispec.Descriptor{MediaType: mt, Digest: l.digest, Size: l.size}
	}
	return json.Marshal(m)
}

// stageLists writes what a node reads once every blob is there (see
// register.sh): per image ID a layout naming its images that holds their
// manifests and configs (small, and the CRI reads an image's config the
// moment the image is named), with the names it gives; and the layers to
// register once the images name them, each once.
func (s *stager) stageLists(plans []imagePlan) ([]tarball.Entry, error) {
	var blobs, imgs strings.Builder
	seen := map[digest.Digest]bool{}
	var ids []string
	for _, p := range plans {
		seen[p.blobs[0].digest] = true // the config travels in the layout
	}
	for _, p := range plans {
		for _, b := range p.blobs[1:] {
			if !seen[b.digest] {
				seen[b.digest] = true
				fmt.Fprintf(&blobs, "%d %s %d\n", b.n, b.digest, b.size)
			}
		}
		if !slices.Contains(ids, p.img.ID) {
			ids = append(ids, p.img.ID)
		}
	}
	out := []tarball.Entry{tarball.File(path.Join(s.dir, "blobs"), 0o444, []byte(blobs.String()))}
	for k, id := range ids {
		same := slices.DeleteFunc(slices.Clone(plans), func(p imagePlan) bool { return p.img.ID != id })
		layout, err := indexLayout(same)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&imgs, "%d %s", k, id)
		for _, p := range same {
			fmt.Fprintf(&imgs, " %s", p.img.Name)
		}
		fmt.Fprintln(&imgs)
		out = append(out, tarball.File(path.Join(s.dir, fmt.Sprintf("import-%d.tar", k)), 0o444, layout))
	}
	return append(out, tarball.File(path.Join(s.dir, "images"), 0o444, []byte(imgs.String()))), nil
}

// indexLayout is an OCI layout of the plans' manifests and configs, whose
// index names each plan's image: ctr imports it in no time, the layers
// being registered apart.
func indexLayout(plans []imagePlan) ([]byte, error) {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	var files []tarball.Entry
	add := func(d digest.Digest, data []byte) {
		name := "blobs/sha256/" + d.Encoded()
		if !slices.ContainsFunc(files, func(e tarball.Entry) bool { return e.Name == name }) {
			files = append(files, tarball.File(name, 0o444, data))
		}
	}
	for _, p := range plans {
		d := p.manifest
		d.Annotations = map[string]string{annotationContainerdImage: p.img.Name}
		idx.Manifests = append(idx.Manifests, d)
		add(p.manifest.Digest, p.raw)
		add(p.blobs[0].digest, p.blobs[0].data)
	}
	index, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return nil, err
	}
	return tarball.Bytes(append([]tarball.Entry{
		tarball.File(ocispec.ImageLayoutFile, 0o444, layout),
		tarball.File("index.json", 0o444, index),
	}, tarball.WithParents(files)...)...)
}
