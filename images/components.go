package images

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"

	"github.com/docker-rke/docker-rke/images/node"
	"github.com/docker-rke/docker-rke/internal/digest"
)

// The wrapper modules that build each component live under _recipes (the
// underscore keeps them out of this module's ./...; their go.mod and go.sum
// are stored as .txt because a directory with a go.mod cannot be embedded).
//
//go:embed all:_recipes
var recipes embed.FS

// revision changes when the way images are assembled changes, so that
// images built by an older docker rke are rebuilt.
const revision = "1"

// LabelRecipe holds the hash of the recipe an image was built from.
const LabelRecipe = "io.docker-rke.recipe"

// Binary is one executable of a component image.
type Binary struct {
	// Package is the Go package to build, relative to the wrapper module
	// ("." for its own main) or a full import path.
	Package string
	// Path is where the binary goes in the image.
	Path string
	// Links are more names for it (multi-call binaries dispatch on argv[0]).
	Links []string
	// LDFlags are added to -s -w (version stamps).
	LDFlags []string
	// Test builds the package's tests as the program (go test -c): the
	// conformance suite is a test binary.
	Test bool `json:",omitempty"`
}

// Component is one image and how to build it.
type Component struct {
	Name    string // kubernetes, etcd, coredns, pause, cni
	Version string // the upstream version, also the image tag
	Ref     string // the image reference
	// Recipe is the wrapper module's directory under _recipes.
	Recipe string
	// Module, when set, is the subdirectory of Recipe with the go.mod and
	// go.sum of this version: the recipe's own files are shared by every
	// version, its other subdirectories are other versions'.
	Module   string `json:",omitempty"`
	Binaries []Binary
	// Runtime adds the Debian tools kubelet and kube-proxy call
	// (iptables, conntrack, mount, nsenter, ...), taken from the node base
	// image with their libraries.
	Runtime bool
	// Entrypoint and Env of the image.
	Entrypoint []string
	Env        []string
	// Check runs in the image and must print Want: the image's self-test.
	Check []string
	Want  string
}

// Components returns every image of a release, with the references the
// plan uses.
func Components(rel Release) []Component {
	refs := rel.Defaults()
	binPath := "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
	return []Component{
		{
			Name: Pause, Version: rel.Pause, Ref: refs.Pause, Recipe: "pause",
			Binaries:   []Binary{{Package: ".", Path: "/pause", LDFlags: []string{"-X main.version=" + rel.Pause}}},
			Entrypoint: []string{"/pause"},
			Check:      []string{"/pause", "-v"}, Want: "pause " + rel.Pause,
		},
		{
			Name: CNI, Version: rel.CNIPlugins, Ref: refs.CNI, Recipe: "cni",
			Binaries: []Binary{
				{Package: "github.com/containernetworking/plugins/plugins/main/ptp", Path: "/opt/cni/bin/ptp", LDFlags: cniStamp(rel)},
				{Package: "github.com/containernetworking/plugins/plugins/main/loopback", Path: "/opt/cni/bin/loopback", LDFlags: cniStamp(rel)},
				{Package: "github.com/containernetworking/plugins/plugins/ipam/host-local", Path: "/opt/cni/bin/host-local", LDFlags: cniStamp(rel)},
				{Package: "github.com/containernetworking/plugins/plugins/meta/portmap", Path: "/opt/cni/bin/portmap", LDFlags: cniStamp(rel)},
			},
			// Without CNI_COMMAND a plugin prints its name and version.
			Entrypoint: []string{"/opt/cni/bin/ptp"},
			Check:      []string{"/opt/cni/bin/ptp"}, Want: "CNI ptp plugin " + rel.CNIPlugins,
		},
		{
			Name: Etcd, Version: rel.Etcd, Ref: refs.Etcd, Recipe: "etcd", Module: minor(rel.Etcd),
			Binaries: []Binary{{
				Package: ".", Path: "/usr/local/bin/etcd", Links: []string{"etcdctl", "etcdutl"},
				LDFlags: []string{"-X go.etcd.io/etcd/api/v3/version.GitSHA=" + rel.Etcd},
			}},
			Env:   []string{binPath},
			Check: []string{"etcd", "--version"}, Want: "etcd Version: " + strings.TrimPrefix(rel.Etcd, "v"),
		},
		{
			Name: CoreDNS, Version: rel.CoreDNS, Ref: refs.CoreDNS, Recipe: "coredns",
			Binaries:   []Binary{{Package: ".", Path: "/coredns", LDFlags: []string{"-X github.com/coredns/coredns/coremain.GitCommit=" + rel.CoreDNS}}},
			Entrypoint: []string{"/coredns"},
			Check:      []string{"/coredns", "-version"}, Want: "CoreDNS-" + strings.TrimPrefix(rel.CoreDNS, "v"),
		},
		{
			// docker rke's own node program: the API proxy of worker
			// nodes and the probes readiness checks and tests run in pods.
			Name: Tools, Version: rel.Kubernetes, Ref: refs.Tools, Recipe: "tools",
			Binaries:   []Binary{{Package: ".", Path: "/rke-tools", LDFlags: []string{"-X main.version=" + rel.Kubernetes}}},
			Entrypoint: []string{"/rke-tools"},
			Check:      []string{"/rke-tools", "version"}, Want: "rke-tools " + rel.Kubernetes,
		},
		{
			// Every node's container runtime, for kubelet's CRI and the
			// node's engine alike; ctr stays for debugging and load.
			Name: Containerd, Version: rel.Containerd, Ref: refs.Containerd, Recipe: "containerd",
			Binaries: []Binary{
				{Package: "github.com/containerd/containerd/v2/cmd/containerd", Path: "/usr/local/bin/containerd", LDFlags: containerdStamp(rel)},
				{Package: "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2", Path: "/usr/local/bin/containerd-shim-runc-v2", LDFlags: containerdStamp(rel)},
				{Package: "github.com/containerd/containerd/v2/cmd/ctr", Path: "/usr/local/bin/ctr", LDFlags: containerdStamp(rel)},
			},
			Env:   []string{binPath},
			Check: []string{"containerd", "--version"}, Want: "containerd github.com/containerd/containerd/v2 " + rel.Containerd,
		},
		{
			// The tools kubelet and kube-proxy call, without the binaries:
			// inside nodes, components run from this small image with the
			// binaries of the node image bound in.
			Name: Runtime, Version: rel.Kubernetes, Ref: refs.Runtime,
			Runtime: true,
			Env:     []string{binPath},
			Check:   []string{"iptables", "--version"}, Want: "iptables v1",
		},
		{
			Name: Kubernetes, Version: rel.Kubernetes, Ref: refs.Kubernetes, Recipe: "kubernetes", Module: minor(rel.Kubernetes),
			Binaries: []Binary{{
				Package: ".", Path: "/usr/local/bin/kubernetes",
				Links:   []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"},
				LDFlags: kubernetesStamp(rel.Kubernetes),
			}},
			Runtime: true,
			Env:     []string{binPath},
			Check:   []string{"kube-apiserver", "--version"}, Want: "Kubernetes " + rel.Kubernetes,
		},
	}
}

// kubernetesStamp sets the version Kubernetes binaries report; plain
// go build leaves "v0.0.0-master+$Format:%H$", which breaks version skew
// checks.
func kubernetesStamp(version string) []string {
	major, minor, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	var flags []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X "+pkg+".gitVersion="+version,
			"-X "+pkg+".gitMajor="+major,
			"-X "+pkg+".gitMinor="+minor,
			"-X "+pkg+".gitTreeState=clean",
			"-X "+pkg+".gitCommit=docker-rke-module-build",
			"-X "+pkg+".buildDate=1970-01-01T00:00:00Z",
		)
	}
	return flags
}

// minor is the minor release of a version: v1.37 of v1.37.2.
func minor(version string) string {
	if i := strings.LastIndex(version, "."); strings.Count(version, ".") == 2 {
		return version[:i]
	}
	return version
}

func containerdStamp(rel Release) []string {
	return []string{
		"-X github.com/containerd/containerd/v2/version.Version=" + rel.Containerd,
		"-X github.com/containerd/containerd/v2/version.Revision=docker-rke-module-build",
	}
}

func cniStamp(rel Release) []string {
	return []string{"-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=" + rel.CNIPlugins}
}

// ComponentHash is the recipe hash of a component: its wrapper module, its
// definition and the assembly revision. (The Go toolchain is left out on
// purpose: the hash names images in plans, which are computed without
// running anything.)
func ComponentHash(c Component) string {
	h := digest.New()
	def, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain data
	}
	fmt.Fprintf(h, "%s\x00%s\x00", revision, def)
	if c.Runtime {
		fmt.Fprintf(h, "%s\x00%s\x00", node.BaseImage(), runtimeScript)
	}
	err = walkRecipe(c, func(p, _ string, data []byte) {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
	})
	if err != nil {
		panic(err) // embedded at compile time
	}
	return digest.Short(h, digest.Label)
}

// Recipe returns the files of a component's wrapper module, with .txt
// suffixes removed, keyed by path relative to the module root.
func Recipe(c Component) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := walkRecipe(c, func(_, rel string, data []byte) { out[rel] = data })
	return out, err
}

// walkRecipe calls fn for every file of a component's wrapper module, in
// a fixed order, with its embedded path and its path in the module (.txt
// removed): the recipe's files, or with a Module its top-level files and
// the Module subdirectory's. A component without a recipe has none.
func walkRecipe(c Component, fn func(p, rel string, data []byte)) error {
	if c.Recipe == "" {
		return nil
	}
	root := path.Join("_recipes", c.Recipe)
	module := ""
	if c.Module != "" {
		module = path.Join(root, c.Module)
	}
	return fs.WalkDir(recipes, root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != root && module != "" && p != module:
			return fs.SkipDir // another version's module
		case d.IsDir():
			return nil
		}
		data, err := recipes.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		if module != "" {
			rel = strings.TrimPrefix(rel, c.Module+"/")
		}
		fn(p, strings.TrimSuffix(rel, ".txt"), data)
		return nil
	})
}

// ReleaseHash names a release's node image: the node recipe, every
// component's recipe and the Dockerfile that bakes them together.
func ReleaseHash(rel Release) string {
	h := digest.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", revision, node.Hash(), releaseDockerfile)
	for _, c := range Components(rel) {
		fmt.Fprintf(h, "%s=%s\x00", c.Name, ComponentHash(c))
	}
	return digest.Short(h, digest.Tag)
}

// NodeImage is the node image of a release, everything baked in:
// docker-rke/node:v1.37.2-<hash>.
func NodeImage(rel Release) string {
	return node.Repository + ":" + rel.Kubernetes + "-" + ReleaseHash(rel)
}

// ReleaseDockerfile bakes a release into the node image, so that nodes
// start with everything and nothing is copied into them: the outer engine
// shares the image's layers between all nodes.
//
//	/opt/docker-rke/bin/      kubernetes (multi-call) and its names, etcd,
//	                          etcdctl, etcdutl, coredns, rke-tools
//	/opt/cni/bin/             ptp, host-local, loopback, portmap
//	/opt/docker-rke/seed/var/ next to the node image's /var layout, the
//	                          node engine's and containerd's stores
//	                          with the two small images loaded: the runtime
//	                          image for the node's engine (components run
//	                          from it with the binaries bound in) and pause
//	                          (static components run from it in the
//	                          engine, pod sandboxes in containerd's k8s.io
//	                          namespace; CoreDNS runs from it with its
//	                          binary bound in: importing its 77 MB image
//	                          into every node cost seconds per node)
//
// The stage image is the same without the seed (Seed false): it is booted
// once to load the saved images and make the seed.
//
//go:embed release.Dockerfile.tmpl
var releaseDockerfile string

// releaseTemplate is release.Dockerfile.tmpl, parsed once.
var releaseTemplate = template.Must(template.New("release.Dockerfile").Parse(releaseDockerfile))

// ReleaseDockerfile is the Dockerfile of a release's node image (seed:
// the image nodes run) or of its stage image (the same without the seed).
func ReleaseDockerfile(rel Release, seed bool) string {
	var b strings.Builder
	err := releaseTemplate.Execute(&b, struct {
		Node, Release, Recipe string
		Images                Set
		Seed                  bool
	}{node.Image(), rel.Kubernetes, ReleaseHash(rel), rel.Defaults(), seed})
	if err != nil {
		panic(err) // plain data into a template parsed at start-up (see tests)
	}
	return b.String()
}

// runtimeScript runs in the node base image and writes a tar of the tools
// kubelet and kube-proxy call, with every library they load and every
// symlink on the way (Debian's alternatives for iptables among them).
//
//go:embed runtime.sh
var runtimeScript string

// RuntimeScript is runtime.sh, which the builder runs in the node base
// image for the runtime tools.
func RuntimeScript() string { return runtimeScript }
