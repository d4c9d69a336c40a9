package e2e

import (
	"strings"
	"testing"
)

// TestDoctor: on this engine every check passes or only warns (exit 0);
// a definition whose subnet a network of the engine holds fails doctor
// and up alike, in the same words, and up leaves nothing behind.
func TestDoctor(t *testing.T) {
	r := docker(t, "rke", "doctor")
	if r.code != 0 {
		t.Fatalf("doctor on the test engine: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"engine", "images", "privileges", "inotify", "disk", "overlay", "kernel"} {
		if !strings.Contains(r.stdout, "\n"+name+" ") {
			t.Errorf("doctor does not check %s:\n%s", name, r.stdout)
		}
	}

	const cluster, holder, subnet = "doctor", "docker-rke-e2e-taken", "172.31.249.0/24"
	requireAbsent(t, cluster)
	rmAtEnd(t, cluster)
	if n := run(t, "docker", "network", "create", "--subnet", subnet, holder); n.code != 0 {
		t.Fatalf("docker network create: %s", n.stderr)
	}
	t.Cleanup(func() { run(t, "docker", "network", "rm", holder) })
	script := writeScript(t, "doctor.go", `	rke.NewCluster("doctor").Subnet("`+subnet+`").Node("doctor-1", rke.All()...)
`)
	want := "subnets: cluster doctor: subnet " + subnet + " overlaps " + subnet + " of the engine's network " + holder
	d := docker(t, "rke", "doctor", script)
	if d.code != 1 || !strings.Contains(d.stdout, "overlaps "+subnet+" of the engine's network "+holder) || !strings.Contains(d.stdout, "docker network rm "+holder) {
		t.Errorf("doctor with a taken subnet: exit %d\n%s%s", d.code, d.stdout, d.stderr)
	}
	up := docker(t, "rke", "up", "--kubeconfig-dir", t.TempDir(), script)
	if up.code != 1 || !strings.Contains(up.stderr, want) {
		t.Errorf("up with a taken subnet: exit %d, want 1 and %q:\n%s", up.code, want, up.stderr)
	}
	assertGone(t, cluster)
}
