package deploy

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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
