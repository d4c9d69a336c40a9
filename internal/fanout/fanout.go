// Package fanout runs independent pieces of work at once and reports
// every failure, the way docker rke works on the nodes of a cluster: one
// node's error never hides another's.
package fanout

import (
	"errors"
	"sync"
)

// Each calls fn for every item in parallel, waits for all of them, and
// returns their errors joined (nil if none failed), in the items' order.
func Each[T any](items []T, fn func(i int, item T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, item)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// All runs every function in parallel and joins their errors.
func All(fns ...func() error) error {
	return Each(fns, func(_ int, fn func() error) error { return fn() })
}
