package plugin

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
)

func TestCheckTravelled(t *testing.T) {
	var ok []dind.LoadImage
	for _, rel := range images.Releases() {
		ok = append(ok, dind.LoadImage{Source: images.NodeImage(rel)})
	}
	if err := checkTravelled(ok); err != nil {
		t.Errorf("every release's node image: %v", err)
	}
	other := images.NodeImage(images.Releases()[0])
	other = other[:strings.LastIndex(other, "-")] + "-000000000000"
	err := checkTravelled([]dind.LoadImage{ok[0], {Source: other}, {Source: "myapp:dev"}})
	if err == nil || !strings.Contains(err.Error(), other+" is not a node image this docker rke runs") || !strings.Contains(err.Error(), "myapp:dev") || strings.Contains(err.Error(), ok[0].Source+" is not") {
		t.Errorf("foreign images: %v", err)
	}
}

func TestPinnedRef(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for ref, want := range map[string]string{
		"127.0.0.1:5000/docker-rke/node:v1.37.2-7c08c53ca205": "127.0.0.1:5000/docker-rke/node@" + d,
		"registry.lab/team/docker-rke/pause:3.10":             "registry.lab/team/docker-rke/pause@" + d,
		"localhost/docker-rke/kubernetes:v1.37.2":             "localhost/docker-rke/kubernetes@" + d,
		"registry.lab:5000/docker-rke/etcd:v3.7.3@" + d:       "registry.lab:5000/docker-rke/etcd@" + d,
	} {
		got, err := pinnedRef(ref, digest.Digest(d))
		if err != nil || got != want {
			t.Errorf("pinnedRef(%s) = %q, %v; want %q", ref, got, err, want)
		}
	}
	if _, err := pinnedRef("Bad Ref", digest.Digest(d)); err == nil {
		t.Error("pinnedRef took a reference docker would not")
	}
}
