// Package node builds the node image in two cached stages, with no
// registry:
//
//   - the base, docker-rke/node-base:<hash of build.sh>: a Debian bookworm
//     root file system made with debootstrap on this machine, with Debian's
//     docker.io, containerd, runc and tini, streamed into the engine's
//     import API (slow: minutes, so it is rebuilt only when build.sh
//     changes);
//   - the node image, docker-rke/node:<hash of the whole recipe>: the base
//     plus the entrypoint, the containerd config and the layout of a node's
//     first /var, built by the engine from a small context (seconds).
package node

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

//go:embed build.sh entrypoint.sh containerd.toml persist.fstab
var recipe embed.FS

// Repositories of the two stages.
const (
	Repository     = "docker-rke/node"
	BaseRepository = "docker-rke/node-base"
)

// dockerfile adds the node's own files to the base. It is part of the
// recipe hash. The label comes first so that every intermediate image of
// the build carries it, and old ones can be found and pruned.
const dockerfile = `FROM %s
LABEL io.docker-rke.node-image=%s
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
COPY containerd.toml /etc/containerd/config.toml
COPY persist.fstab /usr/local/lib/docker-rke/persist.fstab
COPY etc/ /etc/
COPY seed/ /opt/docker-rke/seed/
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin container=docker
VOLUME ["/var"]
ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/entrypoint.sh"]
`

// layout is the node's /var at its first boot, laid out by one copy
// (entrypoint.sh): what Debian and the daemons expect in it (and, outside
// seed/, the mount points the image adds to /etc). /var is the
// node's own empty volume; the image's /var stays hidden under it. A
// release's node image adds the stores of its loaded images to the same
// tree (images/builder). The names are under the build context's seed/.
var layout = []tar.Header{
	{Name: "seed/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/run", Typeflag: tar.TypeSymlink, Linkname: "/run", Mode: 0o777},
	{Name: "seed/var/lock", Typeflag: tar.TypeSymlink, Linkname: "/run/lock", Mode: 0o777},
	{Name: "seed/var/lib/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/lib/kubelet/", Typeflag: tar.TypeDir, Mode: 0o755},
	// The node's own configuration, bound over /etc (persist.fstab).
	{Name: "seed/var/lib/docker-rke/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/lib/docker-rke/etc/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/lib/docker-rke/etc/kubernetes/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/lib/docker-rke/etc/cni/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/lib/docker-rke/etc/cni/net.d/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/lib/docker-rke/etc/docker-rke/", Typeflag: tar.TypeDir, Mode: 0o755},
	// The mount point of the last (the base image has the others).
	{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "etc/docker-rke/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/lib/dpkg/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/log/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/cache/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
	{Name: "seed/var/opt/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/spool/", Typeflag: tar.TypeDir, Mode: 0o755},
	{Name: "seed/var/mail/", Typeflag: tar.TypeDir, Mode: 0o755},
}

// layoutText is layout as text, for the recipe hash.
func layoutText() []byte {
	var b bytes.Buffer
	for _, h := range layout {
		fmt.Fprintf(&b, "%c %o %s %s\n", h.Typeflag, h.Mode, h.Name, h.Linkname)
	}
	return b.Bytes()
}

func mustRead(name string) []byte {
	data, err := recipe.ReadFile(name)
	if err != nil {
		panic(err) // embedded at compile time; cannot fail
	}
	return data
}

func hashOf(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d\x00", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// BaseImage is the reference of the debootstrapped base.
func BaseImage() string { return BaseRepository + ":" + hashOf(mustRead("build.sh")) }

// Hash is the first 12 hex digits of the SHA-256 of the whole recipe.
func Hash() string {
	return hashOf(mustRead("build.sh"), mustRead("entrypoint.sh"), mustRead("containerd.toml"), mustRead("persist.fstab"), []byte(dockerfile), layoutText())
}

// Image is the reference of the node image this build of docker rke uses.
func Image() string { return Repository + ":" + Hash() }

// Exists reports whether the engine has the image.
func Exists(ctx context.Context, api client.ImageAPIClient, ref string) (bool, error) {
	_, err := api.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
}

// BuildOptions tune Build.
type BuildOptions struct {
	// Progress receives one line per build step.
	Progress func(line string)
}

// Build makes the node image unless the engine already has it, and returns
// its reference and whether it had to be built. Each stage gets its final
// tag only when it succeeded, so a failed build leaves no half-built image
// under either tag, and the next run resumes from the stage that is there.
func Build(ctx context.Context, api client.ImageAPIClient, opts BuildOptions) (ref string, built bool, err error) {
	ref = Image()
	if ok, err := Exists(ctx, api, ref); err != nil || ok {
		return ref, false, err
	}
	// Two builds at once would both run debootstrap and race to tag:
	// take a lock, then look again, since the other build may have
	// finished the image while this one waited.
	unlock, err := Lock(ctx, opts.Progress)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if ok, err := Exists(ctx, api, ref); err != nil || ok {
		return ref, false, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	base := BaseImage()
	ok, err := Exists(ctx, api, base)
	if err != nil {
		return "", false, err
	}
	if !ok {
		progress("building the base " + base + " with debootstrap (minutes; only when build.sh changes)")
		if err := buildBase(ctx, api, base, progress); err != nil {
			return "", false, err
		}
	}
	progress("adding the entrypoint and containerd config: " + ref)
	if err := buildNode(ctx, api, base, ref); err != nil {
		return "", false, err
	}
	return ref, true, nil
}

// buildBase streams build.sh's root file system straight into the engine's
// import API: no temporary tar file, and it works with any docker context.
func buildBase(ctx context.Context, api client.ImageAPIClient, ref string, progress func(string)) error {
	dir, err := os.MkdirTemp("", "docker-rke-node-recipe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "build.sh")
	if err := os.WriteFile(script, mustRead("build.sh"), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "bash", script)
	// Its own process group, so cancelling stops debootstrap and apt too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node image: starting build.sh: %w", err)
	}
	var tail []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			tail = append(tail, sc.Text())
			if len(tail) > 20 {
				tail = tail[1:]
			}
			progress(sc.Text())
		}
	}()
	id, importErr := importRootfs(ctx, api, stdout)
	_, _ = io.Copy(io.Discard, stdout) // let the script finish if the engine stopped reading
	<-logDone
	if waitErr := cmd.Wait(); importErr == nil && waitErr != nil {
		importErr = fmt.Errorf("node image: build.sh failed: %w\n%s", waitErr, strings.Join(tail, "\n"))
	}
	if importErr == nil {
		importErr = api.ImageTag(ctx, id, ref)
	}
	if importErr != nil {
		if id != "" {
			_, _ = api.ImageRemove(context.WithoutCancel(ctx), id, image.RemoveOptions{Force: true, PruneChildren: true})
		}
		return importErr
	}
	return nil
}

// importRootfs imports a root file system tar stream as an untagged image
// and returns its ID.
func importRootfs(ctx context.Context, api client.ImageAPIClient, rootfs io.Reader) (string, error) {
	resp, err := api.ImageImport(ctx, image.ImportSource{Source: rootfs, SourceName: "-"}, "", image.ImportOptions{
		Message: "docker-rke node base",
	})
	if err != nil {
		return "", fmt.Errorf("node image: import: %w", err)
	}
	defer resp.Close()
	var id string
	err = ReadMessages(resp, func(status string) {
		if strings.HasPrefix(status, "sha256:") {
			id = strings.TrimSpace(status)
		}
	})
	if err != nil {
		return id, fmt.Errorf("node image: import: %w", err)
	}
	if id == "" {
		return "", errors.New("node image: the engine returned no image ID")
	}
	return id, nil
}

// buildNode builds the node image from the base with the engine's classic
// builder: the base is local, so nothing is pulled.
func buildNode(ctx context.Context, api client.ImageAPIClient, base, ref string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := map[string][]byte{
		"Dockerfile":      []byte(fmt.Sprintf(dockerfile, base, Hash())),
		"entrypoint.sh":   mustRead("entrypoint.sh"),
		"containerd.toml": mustRead("containerd.toml"),
		"persist.fstab":   mustRead("persist.fstab"),
	}
	for _, name := range []string{"Dockerfile", "entrypoint.sh", "containerd.toml", "persist.fstab"} {
		mode := int64(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(files[name]))}); err != nil {
			return err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return err
		}
	}
	for _, h := range layout {
		if err := tw.WriteHeader(&h); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := api.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("node image: build: %w", err)
	}
	defer resp.Body.Close()
	if err := ReadMessages(resp.Body, func(string) {}); err != nil {
		return fmt.Errorf("node image: build: %w", err)
	}
	return nil
}

// ReadMessages reads the engine's JSON message stream (import, build) and
// returns the first error it reports; status sees every status line.
func ReadMessages(r io.Reader, status func(string)) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the engine's answer: %w", err)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
		status(msg.Status)
	}
}
