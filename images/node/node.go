// Package node is the node image's recipe, as data: its files (build.sh,
// entrypoint.sh, containerd.toml, persist.fstab), its build context and
// the hashes and names they give. It talks to no daemon (images/builder
// builds the image), so everything that only names images (the model, the
// plan) depends on nothing that does. The image is built in two cached
// stages, with no registry:
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
	"bytes"
	"embed"
	"fmt"
	"github.com/docker-rke/docker-rke/internal/digest"
	"github.com/docker-rke/docker-rke/internal/tarball"
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
	h := digest.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d\x00", len(p))
		h.Write(p)
	}
	return digest.Short(h, digest.Tag)
}

// BaseImage is the reference of the debootstrapped base.
func BaseImage() string { return BaseRepository + ":" + hashOf(mustRead("build.sh")) }

// Hash is the first 12 hex digits of the SHA-256 of the whole recipe.
func Hash() string {
	return hashOf(mustRead("build.sh"), mustRead("entrypoint.sh"), mustRead("containerd.toml"), mustRead("persist.fstab"), []byte(dockerfile), layoutText())
}

// Image is the reference of the node image this build of docker rke uses.
func Image() string { return Repository + ":" + Hash() }

// BuildScript is build.sh, which writes the base's root file system as a
// tar stream to its stdout.
func BuildScript() []byte { return mustRead("build.sh") }

// Context is the build context of the node image on top of base: its
// Dockerfile, files and layout, as a tar.
func Context(base string) ([]byte, error) {
	entries := []tarball.Entry{
		tarball.File("Dockerfile", 0o644, []byte(fmt.Sprintf(dockerfile, base, Hash()))),
		tarball.File("entrypoint.sh", 0o755, mustRead("entrypoint.sh")),
		tarball.File("containerd.toml", 0o644, mustRead("containerd.toml")),
		tarball.File("persist.fstab", 0o644, mustRead("persist.fstab")),
	}
	for _, h := range layout {
		entries = append(entries, tarball.Entry{Header: h})
	}
	return tarball.Bytes(entries...)
}
