package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// checkSnapshots, on TestClusters' cluster1 (one etcd member) and
// cluster2 (three): a snapshot saved (and written to a file), an object
// deleted and another created after it, then bad restores refused with
// the cluster untouched (an unknown name, the other cluster's snapshot, a
// file that is no snapshot), and the restore: cluster2 from its snapshot
// by name, cluster1 from its file. Afterwards the deleted object is back,
// the later one gone, and every node Ready.
func checkSnapshots(t *testing.T, dir string, plans map[string]runtime.Cluster) {
	files := map[string]string{}
	clients := map[string]*kubernetes.Clientset{}
	for _, cl := range []string{"cluster1", "cluster2"} {
		cs, _ := kubeClient(t, filepath.Join(dir, "kube_config_"+cl+".yml"))
		clients[cl] = cs
		ns := "e2e-" + cl
		putConfigMap(t, cs, ns, "before-snapshot")
		files[cl] = filepath.Join(dir, cl+"-snap1.db")
		r := docker(t, "rke", "etcd", "snapshot", "save", "snap1", "--cluster", cl, "--output", files[cl])
		if r.code != 0 || !strings.Contains(r.stdout, "snapshot snap1 from etcd member") {
			t.Fatalf("%s: snapshot save: exit %d\n%s%s", cl, r.code, r.stdout, r.stderr)
		}
		if fi, err := os.Stat(files[cl]); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
			t.Errorf("%s: --output file: %v %v", cl, err, fi)
		}
		if r := docker(t, "rke", "etcd", "snapshot", "save", "snap1", "--cluster", cl); r.code == 0 || !strings.Contains(r.stderr, "already has a snapshot snap1") {
			t.Errorf("%s: a second snap1 was not refused: exit %d %s", cl, r.code, r.stderr)
		}
		ls := docker(t, "rke", "etcd", "snapshot", "ls", "--cluster", cl)
		if ls.code != 0 || !strings.Contains(ls.stdout, cl+"  snap1") {
			t.Errorf("%s: snapshot ls:\n%s%s", cl, ls.stdout, ls.stderr)
		}
		// cluster1's script asks for recurring snapshots: its etcd node
		// took one when the component started.
		if recurring := strings.Contains(ls.stdout, "node cluster1-node1") && strings.Contains(ls.stdout, " auto-"); recurring != (cl == "cluster1") {
			t.Errorf("%s: recurring snapshots listed: %v, want %v:\n%s", cl, recurring, cl == "cluster1", ls.stdout)
		}
		if err := clients[cl].CoreV1().ConfigMaps(ns).Delete(ctxT(t), "before-snapshot", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		putConfigMap(t, cs, ns, "after-snapshot")
	}

	notSnapshot := filepath.Join(dir, "not-a-snapshot.db")
	if err := os.WriteFile(notSnapshot, []byte("-----BEGIN CERTIFICATE-----\nnot etcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ids := componentIDs(t, "rke-dind-cluster2-node1")
	for _, bad := range []struct{ arg, want string }{
		{"no-such-snapshot", "has no snapshot no-such-snapshot (it has snap1)"},
		{files["cluster1"], "is not a snapshot of cluster cluster2"},
		{notSnapshot, "is not a snapshot of cluster cluster2"},
	} {
		r := docker(t, "rke", "etcd", "snapshot", "restore", bad.arg, "--cluster", "cluster2")
		if r.code == 0 || !strings.Contains(r.stderr, bad.want) || !strings.Contains(r.stderr, "nothing was changed") {
			t.Errorf("restore %s: exit %d, want an error saying %q:\n%s", bad.arg, r.code, bad.want, r.stderr)
		}
	}
	for name, id := range componentIDs(t, "rke-dind-cluster2-node1") {
		if ids[name] != id {
			t.Errorf("a refused restore touched %s", name)
		}
	}
	if _, err := clients["cluster2"].CoreV1().ConfigMaps("e2e-cluster2").Get(ctxT(t), "after-snapshot", metav1.GetOptions{}); err != nil {
		t.Errorf("a refused restore lost an object: %v", err)
	}

	for cl, arg := range map[string]string{"cluster2": "snap1", "cluster1": files["cluster1"]} {
		r := docker(t, "rke", "etcd", "snapshot", "restore", arg, "--cluster", cl)
		if r.code != 0 || !strings.Contains(r.stdout, "every node Ready and DNS answering") {
			t.Fatalf("%s: restore %s: exit %d\n%s%s", cl, arg, r.code, r.stdout, r.stderr)
		}
		cs, ns := clients[cl], "e2e-"+cl
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctxT(t), "before-snapshot", metav1.GetOptions{}); err != nil {
			t.Errorf("%s: the object deleted after the snapshot is not back: %v", cl, err)
		}
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctxT(t), "after-snapshot", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: the object made after the snapshot is still there: %v", cl, err)
		}
		checkNodesReady(t, cs, plans[cl])
		// What etcd held before the restore is kept on each member.
		for _, n := range plans[cl].Nodes {
			if !slices.Contains(n.Roles, model.RoleEtcd) {
				continue
			}
			kept := run(t, "docker", "exec", n.ContainerName, "sh", "-c", "ls -d "+runtime.EtcdDataDir+".before-restore-*")
			if kept.code != 0 {
				t.Errorf("%s: node %s kept no copy of its etcd data: %s", cl, n.Name, kept.stderr)
			}
		}
	}
}

func putConfigMap(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"made": name}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctxT(t), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
