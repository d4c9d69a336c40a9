package builder

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestLockExcludes checks that a second holder waits for the first: flock
// locks belong to open files, so two Lock calls conflict even in one
// process, as two docker rke processes do.
func TestLockExcludes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan func())
	var waited bool
	go func() {
		u, err := lockFile(ctx, path, func(string) { waited = true })
		if err != nil {
			t.Error(err)
			close(acquired)
			return
		}
		acquired <- u
	}()
	select {
	case <-acquired:
		t.Fatal("second Lock succeeded while the first was held")
	case <-time.After(500 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-acquired:
		if u == nil {
			t.Fatal("second Lock failed")
		}
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("second Lock did not get the lock after release")
	}
	if !waited {
		t.Error("the waiting side was not told that it waits")
	}
}

func TestLockCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, path, nil); err == nil {
		t.Fatal("Lock succeeded while held and cancelled")
	}
}
