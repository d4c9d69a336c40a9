package dind

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
)

// made records what an Engine created, per cluster, so that a failed up
// removes exactly that (Rollback): containers (new nodes, and the
// containers of replaced ones), volumes (nodes' /var, the state volume)
// and networks. Nothing that existed before the run is in it: a replaced
// node's volume, with its data, is not.
type made struct {
	mu        sync.Mutex
	byCluster map[string]*madeSet
}

type madeSet struct{ containers, volumes, networks []string }

func (m *made) set(cluster string) *madeSet {
	if m.byCluster == nil {
		m.byCluster = map[string]*madeSet{}
	}
	if m.byCluster[cluster] == nil {
		m.byCluster[cluster] = &madeSet{}
	}
	return m.byCluster[cluster]
}

func (m *made) container(cluster, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.set(cluster)
	s.containers = append(s.containers, name)
}

func (m *made) volume(cluster, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.set(cluster)
	s.volumes = append(s.volumes, name)
}

func (m *made) network(cluster, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.set(cluster)
	s.networks = append(s.networks, name)
}

// take hands over what was made for a cluster, once.
func (m *made) take(cluster string) madeSet {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.byCluster[cluster]
	delete(m.byCluster, cluster)
	if s == nil {
		return madeSet{}
	}
	return *s
}

// Rollback removes what this Engine created for the clusters named: the
// one cleanup of a failed up, whichever step failed. A cluster this run
// created goes entirely; of a cluster that existed, only the nodes and
// volumes this run made. It runs with a context of its own, since the
// run's may be cancelled.
func (e *Engine) Rollback(clusters ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, cluster := range clusters {
		s := e.made.take(cluster)
		if len(s.containers)+len(s.volumes)+len(s.networks) == 0 {
			continue
		}
		var failed bool
		if err := e.RemoveNodes(ctx, s.containers); err != nil {
			e.log.Printf("[%s] cleanup: %v", cluster, err)
			failed = true
		}
		if err := e.RemoveVolumes(ctx, s.volumes); err != nil {
			e.log.Printf("[%s] cleanup: %v", cluster, err)
			failed = true
		}
		for _, name := range s.networks {
			if err := e.api.NetworkRemove(ctx, name); err != nil && !cerrdefs.IsNotFound(err) {
				e.log.Printf("[%s] cleanup: removing network %s: %v", cluster, name, err)
				failed = true
			}
		}
		what := fmt.Sprintf("%s, %s, %s", count(len(s.containers), "container"), count(len(s.volumes), "volume"), count(len(s.networks), "network"))
		if failed {
			e.log.Printf("[%s] cleanup: some of what this run made is left (%s made)", cluster, what)
			continue
		}
		if slices.Contains(s.volumes, StateVolume(cluster)) {
			// The state is made with a cluster's first control plane.
			e.log.Printf("[%s] cleanup: removed the cluster this run created: %s (use --retain to keep it)", cluster, what)
			continue
		}
		e.log.Printf("[%s] cleanup: removed what this run made: %s (use --retain to keep it)", cluster, what)
	}
}

// count is "1 volume", "2 volumes".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
