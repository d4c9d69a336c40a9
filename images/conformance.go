package images

import (
	"bufio"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"text/template"

	"github.com/docker-rke/docker-rke/images/node"
	"github.com/docker-rke/docker-rke/internal/digest"
)

// The upstream conformance suite of a release, built here like everything
// else and run air-gapped: the suite binary and its tools in one image,
// and the images its specs run, rebuilt from the same Go module and
// Debian's packages under names of docker rke's own, to which the suite
// is pointed (KUBE_TEST_REPO_LIST).

// Conformance is the component that runs a release's suite.
const Conformance = "conformance"

// ConformanceComponent is the image that runs a release's conformance
// suite: e2e.test (the suite, a Go test binary), the ginkgo CLI that runs
// it in parallel processes, kubectl (specs call it) stamped with the
// release, and the Go programs of the suite's images (agnhost, nnp,
// sample-apiserver), which those images copy from it.
func ConformanceComponent(rel Release) Component {
	const bin = "/usr/local/bin/"
	stamp := kubernetesStamp(rel.Kubernetes)
	return Component{
		Name: Conformance, Version: rel.Kubernetes, Ref: ref(Conformance, rel.Kubernetes), Recipe: "conformance", Module: minor(rel.Kubernetes),
		Binaries: []Binary{
			{Package: "k8s.io/kubernetes/test/e2e", Test: true, Path: bin + "e2e.test", LDFlags: stamp},
			{Package: "github.com/onsi/ginkgo/v2/ginkgo", Path: bin + "ginkgo"},
			{Package: "k8s.io/kubernetes/cmd/kubectl", Path: bin + "kubectl", LDFlags: stamp},
			{Package: "k8s.io/kubernetes/test/images/agnhost", Path: bin + "agnhost"},
			{Package: "k8s.io/kubernetes/test/images/nonewprivs", Path: bin + "nnp"},
			{Package: "k8s.io/sample-apiserver", Path: bin + "sample-apiserver", LDFlags: stamp},
		},
		Env:   []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		Check: []string{"e2e.test", "--version"}, Want: rel.Kubernetes,
	}
}

// SuiteImage is one image the conformance specs run that docker rke
// builds: the suite's name for it and its template in suite.Dockerfile.
// Images the suite names that are not here are not run by conformance
// specs (storage drivers, node performance, Windows, ...).
type SuiteImage struct {
	// Name is the last part of the suite's repository: agnhost.
	Name string
	// Upstream is the suite's registry for it, the prefix its names
	// carry in e2e.test --list-images.
	Upstream string
	// Key is the registry's key in a KUBE_TEST_REPO_LIST file.
	Key string
	// Files are files of the k8s.io/kubernetes module the build context
	// carries, by path in the module; they land in the context under
	// their base names.
	Files []string
}

// Where the suite's registries point by default.
const (
	upstreamE2E = "registry.k8s.io/e2e-test-images"
	upstreamGC  = "registry.k8s.io"
)

// suiteImages are the images conformance specs run, each built from the
// e2e base (Debian with the tools the specs call) or from an image of the
// release; suite.Dockerfile says how, and why where it differs.
var suiteImages = []SuiteImage{
	{Name: "agnhost", Upstream: upstreamE2E, Key: "promoterE2eRegistry", Files: []string{
		"test/images/agnhost/porter/localhost.crt", "test/images/agnhost/porter/localhost.key"}},
	{Name: "busybox", Upstream: upstreamE2E, Key: "promoterE2eRegistry"},
	{Name: "nginx", Upstream: upstreamE2E, Key: "promoterE2eRegistry"},
	{Name: "glibc-dns-testing", Upstream: upstreamE2E, Key: "promoterE2eRegistry"},
	// v1.35's DNS specs' probe image; v1.36 replaced it with
	// glibc-dns-testing.
	{Name: "jessie-dnsutils", Upstream: upstreamE2E, Key: "promoterE2eRegistry"},
	{Name: "nonewprivs", Upstream: upstreamE2E, Key: "promoterE2eRegistry"},
	{Name: "nautilus", Upstream: upstreamE2E, Key: "promoterE2eRegistry", Files: []string{
		"test/images/nautilus/html/nautilus.jpg", "test/images/nautilus/html/data.json"}},
	{Name: "kitten", Upstream: upstreamE2E, Key: "promoterE2eRegistry", Files: []string{
		"test/images/kitten/html/kitten.jpg", "test/images/kitten/html/data.json"}},
	{Name: "sample-apiserver", Upstream: upstreamE2E, Key: "promoterE2eRegistry"},
	{Name: "pause", Upstream: upstreamGC, Key: "gcRegistry"},
	{Name: "etcd", Upstream: upstreamGC, Key: "gcEtcdRegistry"},
}

// SuiteRegistry is where a release's suite images go: one repository
// prefix per release, since two releases' suites may name different
// builds with the same tag.
func SuiteRegistry(rel Release) string {
	return Repository + "/e2e-" + rel.Kubernetes
}

// RepoList is the KUBE_TEST_REPO_LIST file that points the suite at
// SuiteRegistry for every registry an image of suiteImages comes from;
// the suite keeps its defaults for the rest.
func RepoList(rel Release) string {
	var keys []string
	for _, s := range suiteImages {
		if !slices.Contains(keys, s.Key) {
			keys = append(keys, s.Key)
		}
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, SuiteRegistry(rel))
	}
	return b.String()
}

// Runner is the image that runs a release's suite: its binaries from the
// conformance image on the e2e base (specs run programs kubectl calls).
// It is not a suite image: nodes never run it.
func Runner(rel Release) SuiteBuild {
	return SuiteBuild{SuiteImage: SuiteImage{Name: "runner"}, Tag: rel.Kubernetes, Ref: ref("conformance-runner", rel.Kubernetes)}
}

// SuiteBuild is one suite image to build: which, under what tag, and its
// reference here.
type SuiteBuild struct {
	SuiteImage
	Tag string
	Ref string
}

// SuiteBuilds picks, from e2e.test --list-images output, the images
// docker rke builds, with their tags, in the order they must be built (an
// image another is built from comes first). Tags come from the suite
// itself: each release pins its own.
func SuiteBuilds(rel Release, listImages string) []SuiteBuild {
	var out []SuiteBuild
	sc := bufio.NewScanner(strings.NewReader(listImages))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		repo, tag, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(tag, "/") {
			continue
		}
		i := strings.LastIndex(repo, "/")
		if i < 0 {
			continue
		}
		for _, s := range suiteImages {
			if s.Name == repo[i+1:] && s.Upstream == repo[:i] {
				out = append(out, SuiteBuild{SuiteImage: s, Tag: tag, Ref: SuiteRegistry(rel) + "/" + s.Name + ":" + tag})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b SuiteBuild) int {
		return suiteOrder(a.Name) - suiteOrder(b.Name)
	})
	return slices.CompactFunc(out, func(a, b SuiteBuild) bool { return a.Ref == b.Ref })
}

func suiteOrder(name string) int {
	return slices.IndexFunc(suiteImages, func(s SuiteImage) bool { return s.Name == name })
}

// suiteDockerfile holds one template per suite image (and the e2e base).
//
//go:embed suite.Dockerfile.tmpl
var suiteDockerfile string

var suiteTemplate = template.Must(template.New("suite.Dockerfile").Parse(suiteDockerfile))

// E2EBase is the image most suite images are built from: Debian, from
// the node base, with the tools specs call in their pods. Its tag is the
// hash of its recipe.
func E2EBase() string {
	h := digest.New()
	fmt.Fprintf(h, "%s\x00%s\x00", revision, E2EBaseDockerfile())
	return Repository + "/e2e-base:" + digest.Short(h, digest.Tag)
}

// E2EBaseDockerfile builds E2EBase.
func E2EBaseDockerfile() string {
	return executeSuite("e2e-base", suiteData{NodeBase: node.BaseImage()})
}

// SuiteDockerfile builds one suite image of a release.
func SuiteDockerfile(rel Release, b SuiteBuild) string {
	refs := rel.Defaults()
	return executeSuite(b.Name, suiteData{
		Base: E2EBase(), Conformance: ConformanceComponent(rel).Ref, Registry: SuiteRegistry(rel),
		CoreDNS: refs.CoreDNS, Pause: refs.Pause, Etcd: refs.Etcd, Tag: b.Tag,
		Recipe: SuiteHash(rel, b),
	})
}

// SuiteHash names what a suite image is built from: its template, its
// base and the conformance image's recipe, its tag and files.
func SuiteHash(rel Release, b SuiteBuild) string {
	h := digest.New()
	refs := rel.Defaults()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00", revision, suiteDockerfile, E2EBase(), ComponentHash(ConformanceComponent(rel)), b.Ref)
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%q\x00", refs.CoreDNS, refs.Pause, refs.Etcd, b.Files)
	return digest.Short(h, digest.Label)
}

type suiteData struct {
	NodeBase, Base, Conformance, Registry string
	CoreDNS, Pause, Etcd                  string
	Tag, Recipe                           string
}

func executeSuite(name string, d suiteData) string {
	var b strings.Builder
	if err := suiteTemplate.ExecuteTemplate(&b, name, d); err != nil {
		panic(err) // plain data into a template parsed at start-up (see tests)
	}
	return b.String()
}

// smokeSpecs are the conformance specs make test runs on every change:
// Pods, Services, DNS, ConfigMap and Secret volumes, Deployments, kubectl
// exec and logs, a few minutes in all.
//
//go:embed conformance-smoke.txt
var smokeSpecs string

// SmokeSpecs are the full names of the smoke subset, one per line of
// conformance-smoke.txt (comments and blank lines left out).
func SmokeSpecs() []string {
	var out []string
	for _, line := range strings.Split(smokeSpecs, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}
