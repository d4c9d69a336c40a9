package dind

import "testing"

func TestDecide(t *testing.T) {
	for _, tt := range []struct {
		have Observed
		want Action
	}{
		{Observed{}, Created},
		{Observed{Exists: true, Spec: "a", Running: true}, Kept},
		{Observed{Exists: true, Spec: "a"}, Started},
		{Observed{Exists: true, Spec: "old", Running: true}, Replaced},
		{Observed{Exists: true, Spec: "old"}, Replaced},
		// A container made by hand or by another tool has no spec label.
		{Observed{Exists: true, Running: true}, Replaced},
	} {
		if got := decide(tt.have, "a"); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.have, got, tt.want)
		}
	}
}
