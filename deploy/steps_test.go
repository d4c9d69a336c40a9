package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// record runs steps that note when they start and end.
type record struct {
	mu     sync.Mutex
	events []string
}

func (rec *record) step(name string, after []string, fail error) step {
	return step{name: name, after: after, do: func(_ *run, ctx context.Context) error {
		rec.add("start " + name)
		if fail != nil {
			return fail
		}
		rec.add("end " + name)
		return nil
	}}
}

func (rec *record) add(e string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.events = append(rec.events, e)
}

func (rec *record) index(e string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Index(rec.events, e)
}

func TestStepsRunInOrder(t *testing.T) {
	rec := &record{}
	var timed []string
	var mu sync.Mutex
	err := runSteps(context.Background(), &run{}, []step{
		rec.step("dns", []string{"ready", "cp"}, nil),
		rec.step("files", nil, nil),
		rec.step("etcd", []string{"files"}, nil),
		rec.step("cp", []string{"etcd"}, nil),
		rec.step("ready", []string{"etcd"}, nil),
	}, func(step) {}, func(s step, _ time.Duration) {
		mu.Lock()
		timed = append(timed, s.name)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range [][2]string{{"end files", "start etcd"}, {"end etcd", "start cp"}, {"end etcd", "start ready"}, {"end cp", "start dns"}, {"end ready", "start dns"}} {
		if a, b := rec.index(order[0]), rec.index(order[1]); a < 0 || b < 0 || a > b {
			t.Errorf("%q must come before %q: %v", order[0], order[1], rec.events)
		}
	}
	if len(timed) != 5 {
		t.Errorf("timed %v", timed)
	}
}

// A failure stops what comes after it, and what runs meanwhile stops at
// its next wait; only the real failure is reported.
func TestStepFailureStopsTheRest(t *testing.T) {
	rec := &record{}
	boom := errors.New("etcd did not start")
	slow := step{name: "slow", do: func(_ *run, ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	err := runSteps(context.Background(), &run{}, []step{
		rec.step("files", nil, nil),
		rec.step("etcd", []string{"files"}, boom),
		rec.step("cp", []string{"etcd"}, nil),
		slow,
	}, func(step) {}, func(step, time.Duration) {})
	if !errors.Is(err, boom) || strings.Contains(err.Error(), "canceled") {
		t.Errorf("err = %v, want only the etcd failure", err)
	}
	if rec.index("start cp") >= 0 {
		t.Errorf("a step after the failed one ran: %v", rec.events)
	}
}

func TestStepOrderChecked(t *testing.T) {
	noop := func(*run, context.Context) error { return nil }
	for name, steps := range map[string][]step{
		"unknown": {{name: "a", after: []string{"b"}, do: noop}},
		"circle":  {{name: "a", after: []string{"b"}, do: noop}, {name: "b", after: []string{"a"}, do: noop}},
		"twice":   {{name: "a", do: noop}, {name: "a", do: noop}},
	} {
		if err := runSteps(context.Background(), &run{}, steps, func(step) {}, func(step, time.Duration) {}); err == nil {
			t.Errorf("%s: steps ran", name)
		}
	}
}
