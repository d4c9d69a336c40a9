package fanout

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachRunsAllAtOnceAndJoinsInOrder(t *testing.T) {
	var running atomic.Int32
	var together atomic.Bool
	release := make(chan struct{})
	go func() {
		// No item may finish before every item has started.
		deadline := time.Now().Add(5 * time.Second)
		for running.Load() < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		together.Store(running.Load() == 3)
		close(release)
	}()
	err := Each([]string{"a", "b", "c"}, func(i int, s string) error {
		running.Add(1)
		<-release
		if s == "a" || s == "c" {
			return errors.New(s)
		}
		return nil
	})
	if !together.Load() {
		t.Error("the items did not run at once")
	}
	if err == nil || err.Error() != "a\nc" {
		t.Errorf("err = %q, want a then c", err)
	}
}

func TestAllNil(t *testing.T) {
	if err := All(func() error { return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := Each[int](nil, nil); err != nil {
		t.Fatal(err)
	}
}
