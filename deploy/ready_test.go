package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// loggerFunc is a dind.Logger that hands every line to a function.
type loggerFunc func(format string, args ...any)

func (f loggerFunc) Printf(format string, args ...any) { f(format, args...) }

func TestStaleLease(t *testing.T) {
	since := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	lease := func(holder string, renewed time.Time) *coordinationv1.Lease {
		rt := metav1.NewMicroTime(renewed)
		return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &rt}}
	}
	started := []string{"cp1", "cp2"}
	for _, tt := range []struct {
		name  string
		lease *coordinationv1.Lease
		stale bool
	}{
		{"held by a started node before the start", lease("cp1_8f2c", since.Add(-20*time.Second)), true},
		{"renewed since the start: a new leader", lease("cp1_77aa", since.Add(time.Second)), false},
		{"held by a node that kept running", lease("cp3_1234", since.Add(-20*time.Second)), false},
		{"a name of another shape", lease("cp1", since.Add(-20*time.Second)), false},
		{"no holder", &coordinationv1.Lease{}, false},
	} {
		if got := staleLease(tt.lease, started, since); got != tt.stale {
			t.Errorf("%s: stale = %v, want %v", tt.name, got, tt.stale)
		}
	}
}

func TestReleaseLeases(t *testing.T) {
	holder := func(h string) *coordinationv1.Lease {
		return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: &h}}
	}
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		lease *coordinationv1.Lease // of both components
		stale bool
		kept  bool
	}{
		{"held and stale: released", holder("cp1_8f2c"), true, false},
		{"held, not stale: kept", holder("cp1_8f2c"), false, true},
		{"given back already (no holder): kept", holder(""), true, true},
	} {
		var objs []kruntime.Object
		for _, name := range leaderLeases() {
			l := tt.lease.DeepCopy()
			l.Name, l.Namespace = name, "kube-system"
			objs = append(objs, l)
		}
		cs := fake.NewClientset(objs...)
		var logged []string
		log := loggerFunc(func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) })
		if err := releaseLeases(ctx, cs, "c1", func(*coordinationv1.Lease) bool { return tt.stale }, log); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, name := range leaderLeases() {
			_, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
			if kept := err == nil; kept != tt.kept {
				t.Errorf("%s: lease %s kept = %v (%v), want %v", tt.name, name, kept, err, tt.kept)
			}
		}
		if want := 0; tt.kept && len(logged) != want {
			t.Errorf("%s: logged %q", tt.name, logged)
		}
		if !tt.kept && (len(logged) != 2 || !strings.Contains(logged[0], "held by cp1_8f2c, stopped: released")) {
			t.Errorf("%s: logged %q", tt.name, logged)
		}
	}
	// No lease at all (a cluster whose components never led): nothing to do.
	if err := releaseLeases(ctx, fake.NewClientset(), "c1", func(*coordinationv1.Lease) bool { return true }, loggerFunc(func(string, ...any) {})); err != nil {
		t.Errorf("no leases: %v", err)
	}
}

func TestHasLine(t *testing.T) {
	const prefix = "kubernetes.default.svc.cluster.local.: ["
	for _, tt := range []struct {
		log  string
		want bool
	}{
		{"lookup kubernetes.default.svc.cluster.local. on 10.43.0.10:53: i/o timeout\nkubernetes.default.svc.cluster.local.: [10.43.0.1]\n", true},
		{"kubernetes.default.svc.cluster.local.: [10.43.0.1]", true},
		{"lookup kubernetes.default.svc.cluster.local. on 10.43.0.10:53: read: connection refused\n", false},
		{"", false},
		// The name inside an error line is no answer.
		{"dial: kubernetes.default.svc.cluster.local.: [no such host]\n", false},
	} {
		if got := hasLine(strings.NewReader(tt.log), prefix); got != tt.want {
			t.Errorf("hasLine(%q) = %v, want %v", tt.log, got, tt.want)
		}
	}
}
