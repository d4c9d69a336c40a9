package deploy

import (
	"strings"
	"testing"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

func TestCheckUpgrade(t *testing.T) {
	for _, tc := range []struct {
		from, to, err string
	}{
		{"v1.36.3", "v1.37.2", ""},
		{"v1.36.1", "v1.36.3", ""},
		{"v1.35.4", "v1.36.3", ""},
		{"v1.35.4", "v1.37.2", "skips a minor release, which Kubernetes does not support; upgrade to v1.36 first"},
		{"v1.37.2", "v1.36.3", "is a downgrade"},
		{"v1.36.3", "v1.36.1", "is a downgrade"},
		{"v1.37.2", "v2.0.0", "skips a minor release"},
		{"garbage", "v1.37.2", "its nodes run Kubernetes \"garbage\""},
	} {
		err := CheckUpgrade("c", tc.from, tc.to)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s -> %s: %v", tc.from, tc.to, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "cluster c")):
			t.Errorf("%s -> %s: %v, want an error with %q naming the cluster", tc.from, tc.to, err, tc.err)
		}
	}
}

func TestUpgradeOrder(t *testing.T) {
	c := runtime.Cluster{Nodes: []runtime.Node{
		{Name: "w1", Roles: []model.Role{model.RoleWorker}},
		{Name: "cp", Roles: []model.Role{model.RoleControlPlane, model.RoleWorker}},
		{Name: "e2", Roles: []model.Role{model.RoleEtcd}},
		{Name: "all", Roles: []model.Role{model.RoleEtcd, model.RoleControlPlane, model.RoleWorker}},
		{Name: "w2", Roles: []model.Role{model.RoleWorker}},
	}}
	var got []string
	for _, n := range UpgradeOrder(c) {
		got = append(got, n.Name)
	}
	if want := "e2 all cp w1 w2"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
