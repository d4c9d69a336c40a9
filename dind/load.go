package dind

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-units"
	"github.com/opencontainers/go-digest"

	"github.com/docker-rke/docker-rke/internal/fanout"
)

// Pods run from containerd's k8s.io namespace in each node (kubelet talks
// to containerd's CRI; the node's dockerd is not what pods use), and no
// registry is ever reachable: Load puts a user's images there.

// LoadAction says what Load did with an image on a node.
type LoadAction string

// What Load can do with an image on a node.
const (
	Loaded  LoadAction = "loaded"
	Skipped LoadAction = "skipped"
	Failed  LoadAction = "failed"
)

// Labels Load sets on the images it imports into a node's containerd.
const (
	// LabelImageID is the image's ID (its config digest) as the source
	// knew it: a later load of the same image under the same name skips
	// the node.
	LabelImageID = "io.docker-rke.image-id"
	// labelPinned keeps the kubelet's image garbage collection from
	// removing the image on containerd versions that honour it: no
	// registry could give it back.
	labelPinned = "io.cri-containerd.pinned"
)

// LoadImage is one image to load.
type LoadImage struct {
	// Source is the image's name as its source knows it: what ImageSave
	// is asked for, or a RepoTag of the archive.
	Source string `json:"source"`
	// Name is the normalised name containerd and the CRI know it by:
	// myapp:dev is docker.io/library/myapp:dev.
	Name string `json:"name"`
	// ID is the image's config digest, sha256:...
	ID   string `json:"id"`
	Size int64  `json:"size"`
}

// Short is the image's name the way docker prints it (myapp:dev).
func (i LoadImage) Short() string {
	if named, err := reference.ParseNormalizedNamed(i.Name); err == nil {
		return reference.FamiliarString(named)
	}
	return i.Name
}

// describe is "myapp:dev (sha256:0123456789ab…, 102MB)" for progress lines.
func (i LoadImage) describe() string {
	id := i.ID
	if len(id) > len("sha256:")+12 {
		id = id[:len("sha256:")+12] + "…"
	}
	return fmt.Sprintf("%s (%s, %s)", i.Short(), id, units.HumanSizeWithPrecision(float64(i.Size), 3))
}

// ImageSource is where Load takes images from: what it holds, known before
// anything is streamed, and how to stream it as a docker save archive.
type ImageSource struct {
	// What names the source in messages: "the engine", "archive app.tar".
	What   string
	Images []LoadImage
	// Open streams a docker save archive holding at least images.
	Open func(ctx context.Context, images []LoadImage) (io.ReadCloser, error)
	// Whole says the stream always carries every image of the source,
	// whatever is asked for (an archive file): nodes then get all of
	// them from one read of it.
	Whole bool
}

// LoadOptions tune Load.
type LoadOptions struct {
	Cluster string
	// Nodes to load into, by node name; empty: every node of the cluster.
	Nodes  []string
	Source ImageSource
}

// LoadResult is what Load did with one image on one node.
type LoadResult struct {
	Cluster   string     `json:"cluster"`
	Node      string     `json:"node"`
	Container string     `json:"container"`
	Image     string     `json:"image"`
	ID        string     `json:"id"`
	Action    LoadAction `json:"action"`
}

// Load puts the source's images into the containerd of every selected
// node of a cluster, in parallel, skipping the images a node already holds
// (same name, same ID). The source is streamed once per set of images
// nodes need, to all of those nodes at once. An unknown cluster or node,
// or a node that is not running, fails before anything changes; a node
// that fails later does not undo the others: its images are reported
// failed and its error, naming it, is joined into the one returned.
func (e *Engine) Load(ctx context.Context, opts LoadOptions) ([]LoadResult, error) {
	if len(opts.Source.Images) == 0 {
		return nil, fmt.Errorf("cluster %s: no images to load", opts.Cluster)
	}
	nodes, err := e.RunningNodes(ctx, opts.Cluster, opts.Nodes)
	if err != nil {
		return nil, err
	}
	sessions, need, errs := e.whatNodesNeed(ctx, opts.Cluster, nodes, opts.Source.Images)
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.close()
			}
		}
	}()
	// Each group reports into errs, per node.
	_ = fanout.Each(groupNodes(opts.Source.Images, need, errs, opts.Source.Whole), func(_ int, g loadGroup) error {
		e.loadGroup(ctx, opts.Cluster, nodes, sessions, g, opts.Source, errs)
		return nil
	})
	return loadResults(opts.Cluster, nodes, opts.Source.Images, need, errs), errors.Join(errs...)
}

// RunningNodes finds a cluster's nodes by name (none: every node), each
// of them running: a stopped node is an error that says how to start it.
func (e *Engine) RunningNodes(ctx context.Context, cluster string, names []string) ([]NodeInfo, error) {
	clusters, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(clusters, func(c ClusterInfo) bool { return c.Name == cluster })
	if i < 0 {
		return nil, fmt.Errorf("cluster %s: %w on this engine (docker rke ls lists them)", cluster, ErrNoCluster)
	}
	return selectNodes(clusters[i], names)
}

// whatNodesNeed starts every node's part of the load at once (see
// session.go), and returns per node its session, kept where the node
// needs images, the images it lacks, or why it could not say.
func (e *Engine) whatNodesNeed(ctx context.Context, cluster string, nodes []NodeInfo, images []LoadImage) ([]*nodeSession, [][]LoadImage, []error) {
	sessions := make([]*nodeSession, len(nodes))
	need := make([][]LoadImage, len(nodes))
	errs := make([]error, len(nodes))
	_ = fanout.Each(nodes, func(i int, n NodeInfo) error {
		s, err := e.openSession(ctx, n.Container)
		var have map[string]string
		if err == nil {
			if have, err = s.held(ctx); err != nil {
				s.close()
			}
		}
		if err != nil {
			errs[i] = fmt.Errorf("cluster %s node %s (container %s): %w", cluster, n.Name, n.Container, err)
			e.log.Printf("[%s] node %s: cannot list its images: failed", cluster, n.Name)
			return nil
		}
		var skip []LoadImage
		need[i], skip = needs(images, have)
		for _, img := range skip {
			e.log.Printf("[%s] node %s: already has %s: skipped", cluster, n.Name, img.Short())
		}
		if len(need[i]) == 0 {
			s.close()
		} else {
			sessions[i] = s
		}
		return nil
	})
	return sessions, need, errs
}

// loadResults says what became of every image on every node: failed
// where the node failed (all of them if it could not even list its
// images), loaded where it was needed, skipped where the node had it. It
// is pure.
func loadResults(cluster string, nodes []NodeInfo, images []LoadImage, need [][]LoadImage, errs []error) []LoadResult {
	var out []LoadResult
	for i, n := range nodes {
		for _, img := range images {
			needed := slices.Contains(need[i], img)
			action := Skipped
			switch {
			case errs[i] != nil && (need[i] == nil || needed):
				action = Failed
			case needed:
				action = Loaded
			}
			out = append(out, LoadResult{Cluster: cluster, Node: n.Name, Container: n.Container, Image: img.Short(), ID: img.ID, Action: action})
		}
	}
	return out
}

// selectNodes picks the named nodes of a cluster (every node when names is
// empty) and checks that each one runs. It is pure.
func selectNodes(c ClusterInfo, names []string) ([]NodeInfo, error) {
	if len(names) == 0 {
		names = make([]string, len(c.NodeList))
		for i, n := range c.NodeList {
			names[i] = n.Name
		}
	}
	var out []NodeInfo
	var problems []error
	for _, name := range names {
		i := slices.IndexFunc(c.NodeList, func(n NodeInfo) bool { return n.Name == name })
		switch {
		case i < 0:
			all := make([]string, len(c.NodeList))
			for j, n := range c.NodeList {
				all[j] = n.Name
			}
			problems = append(problems, fmt.Errorf("cluster %s has no node %s; its nodes: %s", c.Name, name, strings.Join(all, ", ")))
		case c.NodeList[i].State != "running":
			n := c.NodeList[i]
			problems = append(problems, fmt.Errorf("cluster %s node %s (container %s) is %s, not running: start it (docker rke up, or docker start %s)", c.Name, n.Name, n.Container, n.State, n.Container))
		case !slices.ContainsFunc(out, func(n NodeInfo) bool { return n.Name == name }):
			out = append(out, c.NodeList[i])
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return out, nil
}

// parseImageList reads `ctr images ls` output: the image name is the first
// column and the labels (k=v,k=v, or "-") the last; SIZE has a space in
// it ("2.1 MiB"), so columns are taken from both ends. It returns the
// LabelImageID of each image that has one.
func parseImageList(out string) map[string]string {
	have := map[string]string{}
	// Lines of any length: an image's labels are all on its line.
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "REF" {
			continue
		}
		for _, kv := range strings.Split(f[len(f)-1], ",") {
			if k, v, ok := strings.Cut(kv, "="); ok && k == LabelImageID {
				have[f[0]] = v
			}
		}
	}
	return have
}

// needs splits images into those a node lacks and those it holds already:
// the same name loaded with the same ID. It is pure.
func needs(images []LoadImage, have map[string]string) (need, skip []LoadImage) {
	for _, img := range images {
		if have[img.Name] == img.ID {
			skip = append(skip, img)
		} else {
			need = append(need, img)
		}
	}
	return need, skip
}

// loadGroup is a set of nodes that get the same stream.
type loadGroup struct {
	images []LoadImage // what the stream carries, labelled on every node
	nodes  []int       // indexes of the nodes
}

// groupNodes groups the nodes that need the same images, so that each set
// is saved once and streamed to all of its nodes. Nodes that failed
// already or need nothing are left out. A whole source (an archive) makes
// one group, since its stream carries every image anyway. It is pure.
func groupNodes(images []LoadImage, need [][]LoadImage, failed []error, whole bool) []loadGroup {
	var groups []loadGroup
	byKey := map[string]int{}
	for i, n := range need {
		if failed[i] != nil || len(n) == 0 {
			continue
		}
		key, carried := "", n
		if whole {
			carried = images
		} else {
			names := make([]string, len(n))
			for j, img := range n {
				names[j] = img.Name + "@" + img.ID
			}
			key = strings.Join(names, " ")
		}
		g, ok := byKey[key]
		if !ok {
			g = len(groups)
			byKey[key] = g
			groups = append(groups, loadGroup{images: carried})
		}
		groups[g].nodes = append(groups[g].nodes, i)
	}
	return groups
}

// loadGroup streams the group's images once, staged (see stage.go), to
// its nodes: through a courier (see courier.go) when there are several,
// else to the engine's extraction into each node; then has each node
// make images of them. A node's error goes into errs at its index.
func (e *Engine) loadGroup(ctx context.Context, cluster string, nodes []NodeInfo, sessions []*nodeSession, g loadGroup, src ImageSource, errs []error) {
	names := make([]string, len(g.images))
	for i, img := range g.images {
		names[i] = img.describe()
	}
	what := strings.Join(names, ", ")
	dir, err := newStageDir()
	if err != nil {
		e.loadFailed(cluster, nodes, g.nodes, errs, fmt.Errorf("reading %s from %s: %w", what, src.What, err))
		return
	}
	// The courier starts while the source opens: a docker save sends its
	// first byte only once the engine has exported the images.
	courierStarted := e.courierFor(ctx, cluster, nodes, g.nodes, dir)
	stream, err := src.Open(ctx, g.images)
	c := courierStarted()
	if c != nil {
		// Ended after the nodes register: the engine then removes it,
		// which costs CPU the registering would wait for.
		defer e.endCourier(ctx, c)
	}
	if err != nil {
		e.loadFailed(cluster, nodes, g.nodes, errs, fmt.Errorf("reading %s from %s: %w", what, src.What, err))
		return
	}
	defer stream.Close()
	start := time.Now()
	for _, i := range g.nodes {
		e.log.Printf("[%s] node %s: loading %s", cluster, nodes[i].Name, what)
	}
	stage := func(w io.Writer) error { return stageArchive(ctxReader{ctx, stream}, w, dir, g.images) }
	var sent []error
	var srcErr error
	if c != nil {
		sent, srcErr = e.sendThroughCourier(ctx, c, len(g.nodes), dir, stage)
	} else {
		containers := make([]string, len(g.nodes))
		for j, i := range g.nodes {
			containers[j] = nodes[i].Container
		}
		sent, srcErr = e.extract(ctx, containers, dir, stage)
	}
	_ = fanout.Each(g.nodes, func(j, i int) error {
		err := sent[j]
		switch {
		case err == nil && srcErr != nil:
			err = fmt.Errorf("reading %s from %s: %w", what, src.What, srcErr)
		case err == nil:
			err = sessions[i].register(ctx, dir)
		}
		errs[i] = e.loadEnded(cluster, nodes[i], start, err)
		return nil
	})
}

// loadFailed gives every node of a group that never got a stream the
// same error.
func (e *Engine) loadFailed(cluster string, nodes []NodeInfo, group []int, errs []error, err error) {
	for _, i := range group {
		errs[i] = fmt.Errorf("cluster %s node %s (container %s): %w", cluster, nodes[i].Name, nodes[i].Container, err)
	}
}

// loadEnded reports how a node's load ended and returns its error, naming
// it.
func (e *Engine) loadEnded(cluster string, n NodeInfo, start time.Time, err error) error {
	took := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		e.log.Printf("[%s] node %s: loading failed after %s", cluster, n.Name, took)
		return fmt.Errorf("cluster %s node %s (container %s): %w", cluster, n.Name, n.Container, err)
	}
	e.log.Printf("[%s] node %s: loaded in %s", cluster, n.Name, took)
	return nil
}

// extract has the engine extract the stage the stage function writes
// into each container at once, under stageRoot, and returns per container
// why it did not take the stage whole (its own failure: it is removed
// from the container) and the source's error, if the stage could not be
// written whole.
func (e *Engine) extract(ctx context.Context, containers []string, dir string, stage func(io.Writer) error) ([]error, error) {
	own := make([]error, len(containers))
	pipes := make([]*io.PipeWriter, len(containers))
	writers := make([]io.Writer, len(containers))
	var wg sync.WaitGroup
	for j, name := range containers {
		pr, pw := io.Pipe()
		pipes[j], writers[j] = pw, pw
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.api.CopyToContainer(ctx, name, stageRoot, pr, container.CopyToContainerOptions{})
			// A container that failed must not hold up the others.
			pr.CloseWithError(errImportDone)
			if err != nil {
				own[j] = fmt.Errorf("sending the images: %w", err)
				e.removeStage(name, dir)
			}
		}()
	}
	fan := &fanOut{writers: writers, errs: make([]error, len(writers))}
	srcErr := stage(fan)
	if errors.Is(srcErr, errNoReader) {
		srcErr = nil // every container's extraction ended: each says why
	}
	for _, pw := range pipes {
		// nil: the engine sees the end of the stage, whole; an error
		// leaves it unfinished, and the nodes register nothing.
		pw.CloseWithError(srcErr)
	}
	wg.Wait()
	if srcErr != nil {
		// The containers still taking the stream failed for want of the
		// rest of it: the source's failure, not theirs.
		for j := range own {
			if fan.errs[j] == nil {
				own[j] = nil
			}
		}
	}
	return own, srcErr
}

// sendThroughCourier has the engine extract the stage once, into the
// first node's volume through the courier, and the courier copy it into
// the other nodes' (n in all). It returns per node why it did not get the
// stage, and the source's error.
func (e *Engine) sendThroughCourier(ctx context.Context, c *courier, n int, dir string, stage func(io.Writer) error) ([]error, error) {
	sent := make([]error, n)
	own, srcErr := e.extract(ctx, []string{c.name}, dir, stage)
	if own[0] != nil || srcErr != nil {
		for j := range sent {
			sent[j] = own[0]
		}
		return sent, srcErr
	}
	copied, err := e.fanOutStage(ctx, c, dir)
	for j := 1; j < n; j++ {
		if sent[j] = err; err == nil {
			sent[j] = copied[j-1]
		}
	}
	return sent, nil
}

// removeStage removes what a failed transfer left of a stage in a
// container (a node, or a courier: the first node's volume), even when
// the load was interrupted; a node that cannot be reached keeps it until
// a later load's register script removes stale stages.
func (e *Engine) removeStage(name, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = Exec(ctx, e.api, name, []string{"rm", "-rf", path.Join(stageRoot, dir)})
}

// newStageDir names a load's stage in a node, under stageRoot: its own,
// so that loads into one node at once do not mix.
func newStageDir() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return path.Join(stageParent, hex.EncodeToString(b)), nil
}

// ctxReader stops a stream when the context ends: reading a file does
// not watch it, and the imports end only when their input does.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var (
	errImportDone = errors.New("the node's import ended")
	errNoReader   = errors.New("every node's import ended")
)

// fanOut writes the stream to every node that still takes it, to all of
// them at once: one slow node's engine then paces the stream, not the
// sum of them. A node that failed is dropped, so that it does not stop
// the others; the copy ends only when none is left.
type fanOut struct {
	writers []io.Writer
	errs    []error
}

func (f *fanOut) Write(p []byte) (int, error) {
	var wg sync.WaitGroup
	for i, w := range f.writers {
		if f.errs[i] != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Write(p); err != nil {
				f.errs[i] = err
			}
		}()
	}
	wg.Wait()
	if !slices.ContainsFunc(f.errs, func(err error) bool { return err == nil }) {
		return 0, errNoReader
	}
	return len(p), nil
}

// NormalizeImageName is the name containerd and the CRI know an image by:
// myapp:dev is docker.io/library/myapp:dev, and a name without a tag gets
// :latest. A digest is refused: a docker save archive names images by
// tag.
func NormalizeImageName(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("image %q is not a valid image name: %w", name, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("image %s is named by digest: docker rke load needs a tag (docker tag %s NAME:TAG)", name, name)
	}
	return reference.TagNameOnly(named).String(), nil
}

// EngineImages is the source for images on the outer engine, checked
// before anything is streamed: each must be there under a name (docker rke
// never pulls). The stream is one docker save of the images asked for.
func (e *Engine) EngineImages(ctx context.Context, names []string) (ImageSource, error) {
	src := ImageSource{What: "the engine", Open: func(ctx context.Context, images []LoadImage) (io.ReadCloser, error) {
		refs := make([]string, len(images))
		for i, img := range images {
			refs[i] = img.Source
		}
		return e.api.ImageSave(ctx, refs)
	}}
	var problems []error
	seen := map[string]bool{}
	for _, name := range names {
		norm, err := NormalizeImageName(name)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if seen[norm] {
			continue
		}
		seen[norm] = true
		inspect, err := e.api.ImageInspect(ctx, name)
		switch {
		case cerrdefs.IsNotFound(err):
			problems = append(problems, fmt.Errorf("image %s is not on the engine; docker rke never pulls images: build it, or pull or load it yourself (docker pull, docker load)", name))
			continue
		case err != nil:
			problems = append(problems, fmt.Errorf("image %s: inspecting it: %w", name, err))
			continue
		}
		// An ID (or a prefix of one) names no image: pods need a name.
		if strings.HasPrefix(inspect.ID, "sha256:"+strings.TrimPrefix(name, "sha256:")) {
			problems = append(problems, fmt.Errorf("image %s is an image ID: pods run images by name; tag it (docker tag %s NAME:TAG) and load the name", name, name))
			continue
		}
		// The engine's ID is the config digest, as in the archive, on
		// engines that store images the classic way (graph drivers).
		// Saved by its tagged name: a name without a tag would save every
		// tag of the repository.
		named, _ := reference.ParseNormalizedNamed(norm)
		src.Images = append(src.Images, LoadImage{Source: reference.FamiliarString(named), Name: norm, ID: inspect.ID, Size: inspect.Size})
	}
	if err := errors.Join(problems...); err != nil {
		return ImageSource{}, err
	}
	return src, nil
}

// ArchiveImages is the source for a docker save archive file: its
// manifest.json says which images it holds, by name and ID, before
// anything is streamed. Only tar headers are read (the file is seekable),
// so the file's data is read once, when it is streamed to the nodes.
func ArchiveImages(file string) (ImageSource, error) {
	f, err := os.Open(file)
	if err != nil {
		return ImageSource{}, fmt.Errorf("archive %s: %w", file, err)
	}
	defer f.Close()
	manifest, sizes, err := readArchiveIndex(f)
	if err != nil {
		return ImageSource{}, fmt.Errorf("archive %s: %w", file, err)
	}
	imgs, err := archiveImages(manifest, sizes)
	if err != nil {
		return ImageSource{}, fmt.Errorf("archive %s: %w", file, err)
	}
	return ImageSource{
		What:   "archive " + file,
		Images: imgs,
		Whole:  true,
		Open: func(context.Context, []LoadImage) (io.ReadCloser, error) {
			return os.Open(file)
		},
	}, nil
}

// errNotSaveArchive says what a docker save archive is, for files that
// are not one.
var errNotSaveArchive = errors.New("not a docker save archive (a tar file with a manifest.json: docker save -o FILE IMAGE...)")

// readArchiveIndex reads a docker save archive's manifest.json and the
// size of every file in it, skipping over the file data.
func readArchiveIndex(r io.Reader) ([]byte, map[string]int64, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(3); bytes.Equal(magic, []byte{0x1f, 0x8b, 0x08}) {
		return nil, nil, fmt.Errorf("%w; this one is gzip-compressed: decompress it first (gunzip)", errNotSaveArchive)
	}
	var tr *tar.Reader
	if s, ok := r.(io.ReadSeeker); ok {
		// Peek read ahead: start again, and let tar seek past file data.
		if _, err := s.Seek(0, io.SeekStart); err != nil {
			return nil, nil, err
		}
		tr = tar.NewReader(s)
	} else {
		tr = tar.NewReader(br)
	}
	sizes := map[string]int64{}
	var manifest []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", errNotSaveArchive, err)
		}
		name := path.Clean(h.Name)
		sizes[name] = h.Size
		if name == "manifest.json" {
			if manifest, err = io.ReadAll(io.LimitReader(tr, 16<<20)); err != nil {
				return nil, nil, fmt.Errorf("reading manifest.json: %w", err)
			}
		}
	}
	if manifest == nil {
		return nil, nil, fmt.Errorf("%w: it has no manifest.json", errNotSaveArchive)
	}
	return manifest, sizes, nil
}

// saveManifest is one image of a docker save archive's manifest.json.
type saveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// archiveImages reads a docker save archive's manifest.json: each image's
// names (normalised), its ID (the config digest, the file name of its
// Config: <hex>.json in docker's own format, blobs/sha256/<hex> in the OCI
// layout of newer engines) and its size (config and layers, from sizes).
// An image without a name is refused: pods run images by name. It is pure.
func archiveImages(manifest []byte, sizes map[string]int64) ([]LoadImage, error) {
	var entries []saveManifest
	if err := json.Unmarshal(manifest, &entries); err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %v", errNotSaveArchive, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: manifest.json lists no image", errNotSaveArchive)
	}
	var out []LoadImage
	var problems []error
	seen := map[string]bool{}
	for _, m := range entries {
		id, err := configDigest(m.Config)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if len(m.RepoTags) == 0 {
			problems = append(problems, fmt.Errorf("image %s has no name (saved by ID): pods run images by name; save it by name (docker save -o FILE NAME:TAG)", id))
			continue
		}
		size := sizes[path.Clean(m.Config)]
		for _, l := range m.Layers {
			size += sizes[path.Clean(l)]
		}
		for _, tag := range m.RepoTags {
			name, err := NormalizeImageName(tag)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			if !seen[name] {
				seen[name] = true
				out = append(out, LoadImage{Source: tag, Name: name, ID: id, Size: size})
			}
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return out, nil
}

// configDigest is the image ID a docker save archive's Config path names.
func configDigest(config string) (string, error) {
	var hex string
	switch dir, file := path.Split(path.Clean(config)); {
	case dir == "" && strings.HasSuffix(file, ".json"):
		hex = strings.TrimSuffix(file, ".json")
	case dir == "blobs/sha256/":
		hex = file
	default:
		return "", fmt.Errorf("%w: manifest.json: Config %q names no config digest", errNotSaveArchive, config)
	}
	d, err := digest.Parse("sha256:" + hex)
	if err != nil {
		return "", fmt.Errorf("%w: manifest.json: Config %q: %v", errNotSaveArchive, config, err)
	}
	return d.String(), nil
}
