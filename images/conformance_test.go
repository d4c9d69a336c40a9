package images

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestConformanceRecipes: every release builds its suite from its own
// module (the tools file pins the suite, ginkgo, kubectl and the images'
// programs), and the suite is a test binary stamped with the release.
func TestConformanceRecipes(t *testing.T) {
	for _, rel := range Releases() {
		c := ConformanceComponent(rel)
		files, err := Recipe(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(keys(files), " "); got != "go.mod go.sum tools.go" {
			t.Errorf("%s: recipe files %s", rel.Kubernetes, got)
		}
		mod := string(files["go.mod"])
		for _, want := range []string{"k8s.io/kubernetes " + rel.Kubernetes + "\n", "github.com/onsi/ginkgo/v2 v", "k8s.io/sample-apiserver => k8s.io/sample-apiserver " + rel.Staging + "\n"} {
			if !strings.Contains(mod, want) {
				t.Errorf("%s: go.mod lacks %q", rel.Kubernetes, want)
			}
		}
		for _, b := range c.Binaries {
			if !strings.Contains(string(files["tools.go"]), `"`+b.Package+`"`) {
				t.Errorf("%s: tools.go does not pin %s", rel.Kubernetes, b.Package)
			}
			if (b.Path == "/usr/local/bin/e2e.test") != b.Test {
				t.Errorf("%s: %s Test=%v", rel.Kubernetes, b.Path, b.Test)
			}
		}
		if c.Binaries[0].Test && !slices.Contains(c.Binaries[0].LDFlags, "-X k8s.io/component-base/version.gitVersion="+rel.Kubernetes) {
			t.Errorf("%s: e2e.test is not stamped: %v", rel.Kubernetes, c.Binaries[0].LDFlags)
		}
	}
}

// listImages is a cut of what e2e.test v1.37.2 --list-images prints.
const listImages = `registry.k8s.io/e2e-test-images/resource-consumer:1.14
gcr.io/k8s-authenticated-test/agnhost:2.6
registry.k8s.io/e2e-test-images/nonewprivs:1.4
registry.k8s.io/e2e-test-images/nginx:1.28.0-2
registry.k8s.io/e2e-test-images/agnhost:2.66.1
registry.k8s.io/e2e-test-images/kitten:1.8
registry.k8s.io/e2e-test-images/busybox:1.37.0-2
registry.k8s.io/sig-storage/csi-attacher:v4.12.0
registry.k8s.io/etcd:3.7.0-0
invalid.registry.k8s.io/invalid/alpine:3.1
registry.k8s.io/pause:3.10.2
registry.k8s.io/e2e-test-images/agnhost:2.55
registry.k8s.io/e2e-test-images/agnhost:2.55
`

func TestSuiteBuilds(t *testing.T) {
	rel, _ := Lookup("v1.37.2")
	var got []string
	for _, b := range SuiteBuilds(rel, listImages) {
		got = append(got, b.Ref)
	}
	want := []string{
		"docker-rke/e2e-v1.37.2/agnhost:2.66.1", "docker-rke/e2e-v1.37.2/agnhost:2.55",
		"docker-rke/e2e-v1.37.2/busybox:1.37.0-2", "docker-rke/e2e-v1.37.2/nginx:1.28.0-2",
		"docker-rke/e2e-v1.37.2/nonewprivs:1.4", "docker-rke/e2e-v1.37.2/kitten:1.8",
		"docker-rke/e2e-v1.37.2/pause:3.10.2", "docker-rke/e2e-v1.37.2/etcd:3.7.0-0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("SuiteBuilds =\n%s\nwant (agnhost of another registry, images not built here and duplicates left out)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRepoList(t *testing.T) {
	rel, _ := Lookup("v1.36.3")
	got := RepoList(rel)
	want := "promoterE2eRegistry: docker-rke/e2e-v1.36.3\ngcRegistry: docker-rke/e2e-v1.36.3\ngcEtcdRegistry: docker-rke/e2e-v1.36.3\n"
	if got != want {
		t.Errorf("RepoList =\n%s\nwant\n%s", got, want)
	}
}

// TestSuiteDockerfiles: every image docker rke builds for the suite has
// a template, from the e2e base or an image of the release, with the
// recipe label the builder compares; a change of what an image is made
// of changes its hash.
func TestSuiteDockerfiles(t *testing.T) {
	rel, _ := Lookup(DefaultKubernetesVersion())
	base := E2EBaseDockerfile()
	if !strings.Contains(base, "FROM docker-rke/node-base:") || !strings.Contains(base, "FROM scratch\nCOPY --from=debian / /") {
		t.Errorf("e2e base is not the node base, flattened:\n%s", base)
	}
	refs := rel.Defaults()
	hashes := map[string]string{}
	for _, s := range suiteImages {
		b := SuiteBuild{SuiteImage: s, Tag: "1.0", Ref: SuiteRegistry(rel) + "/" + s.Name + ":1.0"}
		df := SuiteDockerfile(rel, b)
		from := regexp.MustCompile(`(?m)^FROM (\S+)$`).FindStringSubmatch(df)
		fromBase := from != nil && from[1] == "scratch" && strings.Contains(df, "COPY --from="+E2EBase()+" ")
		if from == nil || !fromBase && !slices.Contains([]string{E2EBase(), refs.Pause, refs.Etcd}, from[1]) {
			t.Errorf("%s: not from the e2e base or the release's images:\n%s", s.Name, df)
		}
		if !strings.Contains(df, "io.docker-rke.recipe="+SuiteHash(rel, b)+" ") {
			t.Errorf("%s: no recipe label:\n%s", s.Name, df)
		}
		for _, f := range s.Files {
			name := f[strings.LastIndex(f, "/")+1:]
			if !strings.Contains(df, name) && !strings.Contains(df, "*"+name[strings.LastIndex(name, "."):]) {
				t.Errorf("%s: the context's %s is not copied:\n%s", s.Name, name, df)
			}
		}
		h := SuiteHash(rel, b)
		if other, dup := hashes[h]; dup {
			t.Errorf("%s and %s share the hash %s", s.Name, other, h)
		}
		hashes[h] = s.Name
	}
	runner := SuiteDockerfile(rel, Runner(rel))
	if !strings.HasPrefix(runner, "FROM "+E2EBase()+"\n") || !strings.Contains(runner, "COPY --from="+ConformanceComponent(rel).Ref+" /usr/local/bin/e2e.test /usr/local/bin/ginkgo /usr/local/bin/kubectl /usr/local/bin/") {
		t.Errorf("the runner is not the suite's binaries on the e2e base:\n%s", runner)
	}
	if strings.HasPrefix(Runner(rel).Ref, SuiteRegistry(rel)+"/") {
		t.Errorf("the runner %s is among the images loaded into nodes", Runner(rel).Ref)
	}
	agnhost := SuiteDockerfile(rel, SuiteBuild{SuiteImage: suiteImages[0], Tag: "2.66.1"})
	for _, want := range []string{"ENTRYPOINT [\"/agnhost\"]", "CMD [\"pause\"]", "/agnhost-2", "COPY --from=" + refs.CoreDNS + " /coredns /coredns"} {
		if !strings.Contains(agnhost, want) {
			t.Errorf("agnhost lacks %q:\n%s", want, agnhost)
		}
	}
}

func TestSmokeSpecs(t *testing.T) {
	specs := SmokeSpecs()
	if len(specs) < 15 || len(specs) > 30 {
		t.Errorf("%d smoke specs; the issue asks for about 20", len(specs))
	}
	for i, s := range specs {
		if !strings.Contains(s, "[Conformance]") || strings.Contains(s, "[Serial]") {
			t.Errorf("%q is not a parallel conformance spec", s)
		}
		if slices.Contains(specs[:i], s) {
			t.Errorf("%q twice", s)
		}
	}
}

// TestSuiteBuildsOlderRelease: v1.35's DNS specs run jessie-dnsutils
// (v1.36 replaced it with glibc-dns-testing); it is built from the e2e
// base with dig and nslookup.
func TestSuiteBuildsOlderRelease(t *testing.T) {
	rel, _ := Lookup("v1.35.4")
	builds := SuiteBuilds(rel, "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7\nregistry.k8s.io/e2e-test-images/perl:5.26\n")
	if len(builds) != 1 || builds[0].Ref != "docker-rke/e2e-v1.35.4/jessie-dnsutils:1.7" {
		t.Fatalf("SuiteBuilds = %+v, want jessie-dnsutils only", builds)
	}
	if df := SuiteDockerfile(rel, builds[0]); !strings.Contains(df, "FROM "+E2EBase()+"\n") {
		t.Errorf("jessie-dnsutils is not the e2e base:\n%s", df)
	}
}
