package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/docker-rke/docker-rke/internal/fanout"
)

// step is one named piece of a cluster's deployment. It runs once every
// step it comes after has succeeded, in parallel with whatever else may
// run then.
type step struct {
	name  string
	after []string
	// phase names the phase this step ends, reported with its time
	// (progress lines, --json-timings), measured from the start of step
	// phaseFrom (this step if empty); other steps are parts of a phase.
	phase, phaseFrom string
	do               func(r *run, ctx context.Context) error
}

// runSteps runs steps as early as their order allows, each once. The first
// failure cancels the steps still running or waiting, and every failure is
// returned (a step that only stopped because another failed adds nothing).
func runSteps(ctx context.Context, r *run, steps []step, started func(step), done func(step, time.Duration)) error {
	if err := checkOrder(steps); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	finished := map[string]chan struct{}{}
	for _, s := range steps {
		finished[s.name] = make(chan struct{})
	}
	var failed atomic.Bool
	return fanout.Each(steps, func(_ int, s step) error {
		for _, before := range s.after {
			select {
			case <-finished[before]:
			case <-ctx.Done():
				return nil // a step it needs failed, or the run was cancelled
			}
		}
		started(s)
		start := time.Now()
		if err := s.do(r, ctx); err != nil {
			if failed.Swap(true) && errors.Is(err, context.Canceled) {
				return nil
			}
			cancel()
			return err
		}
		done(s, time.Since(start))
		close(finished[s.name])
		return nil
	})
}

// checkOrder refuses steps that come after a step that is not there, or
// after themselves through others: they would wait forever.
func checkOrder(steps []step) error {
	byName := map[string]step{}
	for _, s := range steps {
		if _, dup := byName[s.name]; dup {
			return fmt.Errorf("deploy: step %q twice", s.name)
		}
		byName[s.name] = s
	}
	const (
		unseen = iota
		visiting
		ok
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		s, known := byName[name]
		if !known {
			return fmt.Errorf("deploy: step %q comes after %q, which is not a step", path[len(path)-1], name)
		}
		switch state[name] {
		case visiting:
			return fmt.Errorf("deploy: steps in a circle: %v", append(path, name))
		case ok:
			return nil
		}
		state[name] = visiting
		for _, before := range s.after {
			if err := visit(before, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = ok
		return nil
	}
	for _, s := range steps {
		if err := visit(s.name, nil); err != nil {
			return err
		}
	}
	return nil
}
