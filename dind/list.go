package dind

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/docker-rke/docker-rke/internal/fanout"
)

// ClusterInfo is what ls shows of a cluster, read from labels.
type ClusterInfo struct {
	Name    string `json:"name"`
	Nodes   int    `json:"nodes"`
	Running int    `json:"running"`
	// Ready counts the nodes whose container runs and whose Node is
	// Ready, when ReadyKnown (the API server answered).
	Ready             int        `json:"ready"`
	ReadyKnown        bool       `json:"readyKnown"`
	State             string     `json:"state"`
	Roles             string     `json:"roles"`
	KubernetesVersion string     `json:"kubernetesVersion"`
	Created           time.Time  `json:"created"`
	NodeList          []NodeInfo `json:"nodeList"`
}

// NodeInfo is one node of a listed cluster.
type NodeInfo struct {
	Name      string `json:"name"`
	Container string `json:"container"`
	Roles     string `json:"roles"`
	State     string `json:"state"`
	// KubernetesVersion is the release the node runs.
	KubernetesVersion string `json:"kubernetesVersion"`
}

// List returns every cluster on the engine, sorted by name.
func (e *Engine) List(ctx context.Context) ([]ClusterInfo, error) {
	list, err := e.api.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelCluster)),
	})
	if err != nil {
		return nil, fmt.Errorf("listing node containers: %w", err)
	}
	byName := map[string]*ClusterInfo{}
	for _, c := range list {
		if _, probe := c.Labels[LabelProbe]; probe {
			continue
		}
		name := c.Labels[LabelCluster]
		info := byName[name]
		if info == nil {
			info = &ClusterInfo{Name: name}
			byName[name] = info
		}
		info.Nodes++
		if c.State == "running" {
			info.Running++
		}
		created := time.Unix(c.Created, 0).UTC()
		if info.Created.IsZero() || created.Before(info.Created) {
			info.Created = created
		}
		info.NodeList = append(info.NodeList, NodeInfo{
			Name:              c.Labels[LabelNode],
			Container:         strings.TrimPrefix(firstName(c.Names), "/"),
			Roles:             c.Labels[LabelRoles],
			State:             c.State,
			KubernetesVersion: c.Labels[LabelKubernetesVersion],
		})
	}
	out := make([]ClusterInfo, 0, len(byName))
	for _, info := range byName {
		sort.Slice(info.NodeList, func(i, j int) bool { return info.NodeList[i].Name < info.NodeList[j].Name })
		info.Roles = roleSummary(info.NodeList)
		info.KubernetesVersion = versionSummary(info.NodeList)
		switch {
		case info.Running == info.Nodes:
			info.State = "running"
		case info.Running == 0:
			info.State = "stopped"
		default:
			info.State = fmt.Sprintf("degraded (%d/%d running)", info.Running, info.Nodes)
		}
		out = append(out, *info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// versionSummary is the release the nodes run, or each of them, oldest
// first, while an upgrade is under way ("v1.36.3 v1.37.2").
func versionSummary(nodes []NodeInfo) string {
	var versions []string
	for _, n := range nodes {
		if n.KubernetesVersion != "" && !slices.Contains(versions, n.KubernetesVersion) {
			versions = append(versions, n.KubernetesVersion)
		}
	}
	slices.SortFunc(versions, func(a, b string) int {
		va, erra := version.ParseSemantic(a)
		vb, errb := version.ParseSemantic(b)
		if erra != nil || errb != nil {
			return strings.Compare(a, b)
		}
		switch {
		case va.LessThan(vb):
			return -1
		case vb.LessThan(va):
			return 1
		}
		return 0
	})
	return strings.Join(versions, " ")
}

// roleSummary counts nodes per role: "controlplane:1,etcd:1,worker:3".
func roleSummary(nodes []NodeInfo) string {
	counts := map[string]int{}
	for _, n := range nodes {
		for _, r := range strings.Split(n.Roles, ",") {
			if r != "" {
				counts[r]++
			}
		}
	}
	var parts []string
	for _, r := range []string{"controlplane", "etcd", "worker"} {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", r, counts[r]))
		}
	}
	return strings.Join(parts, ",")
}

// ErrNoCluster is returned by Remove for a name that has nothing on the
// engine.
var ErrNoCluster = errors.New("no such cluster")

// Remove deletes everything that carries the cluster's label: node
// containers with their volumes, networks and volumes. It reports
// ErrNoCluster when there was nothing to remove.
func (e *Engine) Remove(ctx context.Context, cluster string) error {
	label := filters.NewArgs(filters.Arg("label", LabelCluster+"="+cluster))
	ctrs, err := e.api.ContainerList(ctx, container.ListOptions{All: true, Filters: label})
	if err != nil {
		return fmt.Errorf("cluster %s: listing containers: %w", cluster, err)
	}
	nets, err := e.api.NetworkList(ctx, network.ListOptions{Filters: label})
	if err != nil {
		return fmt.Errorf("cluster %s: listing networks: %w", cluster, err)
	}
	vols, err := e.api.VolumeList(ctx, volume.ListOptions{Filters: label})
	if err != nil {
		return fmt.Errorf("cluster %s: listing volumes: %w", cluster, err)
	}
	if len(ctrs)+len(nets)+len(vols.Volumes) == 0 {
		return fmt.Errorf("cluster %s: %w", cluster, ErrNoCluster)
	}
	errs := []error{fanout.Each(ctrs, func(_ int, c container.Summary) error {
		if err := e.removeContainer(ctx, c.ID); err != nil {
			return fmt.Errorf("cluster %s: removing container %s: %w", cluster, strings.TrimPrefix(firstName(c.Names), "/"), err)
		}
		return nil
	})}
	for _, n := range nets {
		if err := e.api.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("cluster %s: removing network %s: %w", cluster, n.Name, err))
		}
	}
	for _, v := range vols.Volumes {
		if err := e.api.VolumeRemove(ctx, v.Name, true); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("cluster %s: removing volume %s: %w", cluster, v.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	e.log.Printf("[%s] removed %d node containers, %d networks, %d volumes", cluster, len(ctrs), len(nets), len(vols.Volumes))
	return nil
}
