package plugin

import (
	"strings"
	"testing"

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
