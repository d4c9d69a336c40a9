package images

import (
	"slices"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, v := range []string{"v1.37.2", "1.37.2", "v1.37.2-rancher1-1"} {
		if r, err := Lookup(v); err != nil || r.Kubernetes != "v1.37.2" {
			t.Errorf("Lookup(%q) = %v, %v", v, r, err)
		}
	}
	_, err := Lookup("v1.12.4")
	if err == nil || !strings.Contains(err.Error(), "v1.37.2") || !strings.Contains(err.Error(), "v1.12.4") {
		t.Errorf("unknown version error %v should name it and list the buildable ones", err)
	}
}

func TestComponentsHaveRecipes(t *testing.T) {
	rel, _ := Lookup(DefaultKubernetesVersion())
	seen := map[string]bool{}
	for _, c := range Components(rel) {
		if seen[c.Name] {
			t.Errorf("component %s twice", c.Name)
		}
		seen[c.Name] = true
		if !strings.HasPrefix(c.Ref, Repository+"/"+c.Name+":") {
			t.Errorf("%s: ref %s", c.Name, c.Ref)
		}
		if len(c.Check) == 0 || c.Want == "" {
			t.Errorf("%s: no self-test", c.Name)
		}
		if len(c.Binaries) == 0 {
			continue
		}
		files, err := Recipe(c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if _, ok := files["go.mod"]; !ok {
			t.Errorf("%s: recipe has no go.mod (files %v)", c.Name, keys(files))
		}
	}
	for _, name := range []string{Kubernetes, Etcd, CoreDNS, Pause, CNI, Runtime} {
		if !seen[name] {
			t.Errorf("no component %s", name)
		}
	}
}

func TestHashes(t *testing.T) {
	rel, _ := Lookup(DefaultKubernetesVersion())
	comps := Components(rel)
	if ComponentHash(comps[0]) != ComponentHash(Components(rel)[0]) {
		t.Fatal("component hash is not stable")
	}
	changed := comps[0]
	changed.Binaries = append([]Binary(nil), changed.Binaries...)
	changed.Binaries[0].LDFlags = append([]string{"-X x.y=z"}, changed.Binaries[0].LDFlags...)
	if ComponentHash(changed) == ComponentHash(comps[0]) {
		t.Error("a changed recipe kept its hash")
	}
	ref := NodeImage(rel)
	if !strings.HasPrefix(ref, "docker-rke/node:v1.37.2-") || ref != NodeImage(rel) {
		t.Errorf("node image %q", ref)
	}
}

func TestKubernetesVersionStamp(t *testing.T) {
	flags := strings.Join(kubernetesStamp("v1.37.2"), " ")
	for _, want := range []string{"k8s.io/component-base/version.gitVersion=v1.37.2", "k8s.io/component-base/version.gitMinor=37", "k8s.io/client-go/pkg/version.gitMajor=1"} {
		if !strings.Contains(flags, want) {
			t.Errorf("stamp lacks %s: %s", want, flags)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestReleaseDockerfile(t *testing.T) {
	rel, err := Lookup(DefaultKubernetesVersion())
	if err != nil {
		t.Fatal(err)
	}
	node := ReleaseDockerfile(rel, true)
	stage := ReleaseDockerfile(rel, false)
	d := rel.Defaults()
	for _, want := range []string{"COPY --from=" + d.Kubernetes + " ", "COPY --from=" + d.Etcd + " ", "COPY --from=" + d.CNI + " ", "COPY --from=" + d.CoreDNS + " ", "COPY --from=" + d.Tools + " ", "io.docker-rke.recipe=" + ReleaseHash(rel), "COPY images/ /opt/docker-rke/images/"} {
		if !strings.Contains(node, want) || !strings.Contains(stage, want) {
			t.Errorf("Dockerfiles lack %q:\n%s\n%s", want, node, stage)
		}
	}
	if !strings.Contains(node, "COPY seed/ /opt/docker-rke/seed/") || strings.Contains(stage, "seed/") {
		t.Errorf("only the node image carries the seed:\n%s\n%s", node, stage)
	}
	if !strings.HasPrefix(node, "FROM docker-rke/node:") {
		t.Errorf("not from the node image:\n%s", node)
	}
}

// TestReleaseRecipes: every release builds its own Kubernetes module (its
// go.mod requires that release, no other release's files come along) from
// the shared wrapper program, and its images differ from the other
// releases' where the version differs.
func TestReleaseRecipes(t *testing.T) {
	seen := map[string]string{}
	for _, rel := range Releases() {
		var k Component
		for _, c := range Components(rel) {
			if c.Name == Kubernetes {
				k = c
			}
		}
		files, err := Recipe(k)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(keys(files), " "); got != "go.mod go.sum main.go" {
			t.Errorf("%s: recipe files %s, want go.mod go.sum main.go", rel.Kubernetes, got)
		}
		if !strings.Contains(string(files["go.mod"]), "k8s.io/kubernetes "+rel.Kubernetes+"\n") {
			t.Errorf("%s: go.mod does not require k8s.io/kubernetes %s", rel.Kubernetes, rel.Kubernetes)
		}
		if want := "v0." + strings.TrimPrefix(rel.Kubernetes, "v1."); rel.Staging != want || !strings.Contains(string(files["go.mod"]), "k8s.io/api => k8s.io/api "+want+"\n") {
			t.Errorf("%s: staging %s, want %s in the table and the go.mod's replaces", rel.Kubernetes, rel.Staging, want)
		}
		h := ComponentHash(k)
		if other, dup := seen[h]; dup {
			t.Errorf("%s and %s share the Kubernetes recipe hash %s", rel.Kubernetes, other, h)
		}
		seen[h] = rel.Kubernetes
		if _, err := Lookup(strings.TrimPrefix(rel.Kubernetes, "v") + "-rancher1-1"); err != nil {
			t.Errorf("RKE's form of %s: %v", rel.Kubernetes, err)
		}
	}
	if got := KubernetesVersions(); !slices.IsSorted(got) || got[len(got)-1] != DefaultKubernetesVersion() {
		t.Errorf("versions %v: want oldest first, the default newest", got)
	}
}
