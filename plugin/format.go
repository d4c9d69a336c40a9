package plugin

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/cli/cli/command/formatter"
	"github.com/docker/cli/templates"
	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
)

// Listings speak docker's --format, with docker's own formatter: "table"
// (the default columns), "table TEMPLATE" (a header from the fields'
// names), "json" (one object per line whose keys are the fields a
// template names: {{.KubernetesVersion}} is "KubernetesVersion"), or any
// Go template, with docker's template functions (json, join, upper, ...).

// formatFlag is --format of a listing; its default is "table".
func formatFlag(fields string) *cli.StringFlag {
	return &cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: formatter.TableFormatKey,
		Usage: `"table", "table TEMPLATE", "json", or a Go template; fields: ` + fields}
}

// writeFormatted renders rows in format; table is the default table, quiet
// the format of -q.
func writeFormatted[R formatter.SubContext](w io.Writer, format, table, quiet string, isQuiet bool, header R, rows []R) error {
	switch {
	case isQuiet:
		format = quiet
	case format == formatter.TableFormatKey:
		format = table
	}
	ctx := formatter.Context{Output: w, Format: formatter.Format(format)}
	err := ctx.Write(header, func(write func(formatter.SubContext) error) error {
		for _, r := range rows {
			if err := write(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return cli.Exit(fmt.Sprintf("--format: %v", err), 2)
	}
	return nil
}

// clusterRow is one cluster of ls.
type clusterRow struct {
	formatter.HeaderContext
	c dind.ClusterInfo
}

const (
	clusterTable  = "table {{.Name}}\t{{.Nodes}}\t{{.Ready}}\t{{.Roles}}\t{{.State}}\t{{.KubernetesVersion}}\t{{.Age}}"
	clusterFields = "Name, Nodes, Running, Ready, ReadyNodes, ReadyKnown, Roles, State, KubernetesVersion, Age, CreatedAt"
)

func clusterHeader() *clusterRow {
	r := &clusterRow{}
	r.Header = formatter.SubHeaderContext{
		"Name": "NAME", "Nodes": "NODES", "Running": "RUNNING", "Ready": "READY", "ReadyNodes": "READY NODES",
		"ReadyKnown": "READY KNOWN", "Roles": "ROLES", "State": "STATE", "KubernetesVersion": "KUBERNETES",
		"Age": "AGE", "CreatedAt": "CREATED AT",
	}
	return r
}

func (r *clusterRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(r) }
func (r *clusterRow) Name() string                 { return r.c.Name }
func (r *clusterRow) Nodes() int                   { return r.c.Nodes }
func (r *clusterRow) Running() int                 { return r.c.Running }

// Ready is "2/3", or "-" when the API server did not answer.
func (r *clusterRow) Ready() string {
	if !r.c.ReadyKnown {
		return "-"
	}
	return fmt.Sprintf("%d/%d", r.c.Ready, r.c.Nodes)
}
func (r *clusterRow) ReadyNodes() int           { return r.c.Ready }
func (r *clusterRow) ReadyKnown() bool          { return r.c.ReadyKnown }
func (r *clusterRow) Roles() string             { return r.c.Roles }
func (r *clusterRow) State() string             { return r.c.State }
func (r *clusterRow) KubernetesVersion() string { return r.c.KubernetesVersion }
func (r *clusterRow) Age() string               { return units.HumanDuration(time.Since(r.c.Created)) }
func (r *clusterRow) CreatedAt() string         { return r.c.Created.Format(time.RFC3339) }

// imageRow is one image of images ls.
type imageRow struct {
	formatter.HeaderContext
	ref, component, version string
	size                    int64
	created                 time.Time
}

const (
	imageTable  = "table {{.Image}}\t{{.Component}}\t{{.Version}}\t{{.Size}}\t{{.CreatedSince}}"
	imageFields = "Image, Component, Version, Size, Bytes, CreatedSince, CreatedAt"
)

func imageHeader() *imageRow {
	r := &imageRow{}
	r.Header = formatter.SubHeaderContext{
		"Image": "IMAGE", "Component": "COMPONENT", "Version": "VERSION", "Size": "SIZE", "Bytes": "BYTES",
		"CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	}
	return r
}

func (r *imageRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(r) }
func (r *imageRow) Image() string                { return r.ref }
func (r *imageRow) Component() string            { return r.component }
func (r *imageRow) Version() string              { return r.version }
func (r *imageRow) Size() string                 { return units.HumanSizeWithPrecision(float64(r.size), 3) }
func (r *imageRow) Bytes() string                { return strconv.FormatInt(r.size, 10) }
func (r *imageRow) CreatedSince() string         { return units.HumanDuration(time.Since(r.created)) + " ago" }
func (r *imageRow) CreatedAt() string            { return r.created.Format(time.RFC3339) }

// nodeRow is one node of up's table.
type nodeRow struct {
	formatter.HeaderContext
	s dind.NodeStatus
}

const (
	nodeTable  = "table {{.Cluster}}\t{{.Node}}\t{{.Roles}}\t{{.Address}}\t{{.Container}}\t{{.Action}}"
	nodeFields = "Cluster, Node, Roles, Address, Container, Action, APIPort"
)

func nodeHeader() *nodeRow {
	r := &nodeRow{}
	r.Header = formatter.SubHeaderContext{
		"Cluster": "CLUSTER", "Node": "NODE", "Roles": "ROLES", "Address": "ADDRESS", "Container": "CONTAINER",
		"Action": "ACTION", "APIPort": "API PORT",
	}
	return r
}

func (r *nodeRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(r) }
func (r *nodeRow) Cluster() string              { return r.s.Cluster }
func (r *nodeRow) Node() string                 { return r.s.Node }
func (r *nodeRow) Roles() string                { return strings.Join(r.s.Roles, ",") }
func (r *nodeRow) Address() string              { return r.s.Address }
func (r *nodeRow) Container() string            { return r.s.Container }
func (r *nodeRow) Action() string               { return string(r.s.Action) }

// APIPort is the API server's port published on the engine host's
// 127.0.0.1, for controlplane nodes; "" for the others.
func (r *nodeRow) APIPort() string { return r.s.APIPort }

// checkFormat rejects a --format whose template does not parse, before a
// command does its work: up would otherwise find out with its nodes made.
func checkFormat(format string) error {
	if format == formatter.TableFormatKey || format == formatter.JSONFormatKey {
		return nil
	}
	if _, err := templates.Parse(strings.TrimPrefix(format, formatter.TableFormatKey+" ")); err != nil {
		return cli.Exit(fmt.Sprintf("--format: %v", err), 2)
	}
	return nil
}

// releaseRow is one release of version's table.
type releaseRow struct {
	formatter.HeaderContext
	r images.Release
}

const (
	releaseTable  = "table {{.Kubernetes}}\t{{.Etcd}}\t{{.CoreDNS}}\t{{.Containerd}}\t{{.CNIPlugins}}"
	releaseFields = "Kubernetes, Staging, Etcd, CoreDNS, Containerd, CNIPlugins, Pause"
)

func releaseHeader() *releaseRow {
	r := &releaseRow{}
	r.Header = formatter.SubHeaderContext{
		"Kubernetes": "KUBERNETES", "Staging": "STAGING", "Etcd": "ETCD", "CoreDNS": "COREDNS",
		"Containerd": "CONTAINERD", "CNIPlugins": "CNI PLUGINS", "Pause": "PAUSE",
	}
	return r
}

func (r *releaseRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(r) }
func (r *releaseRow) Kubernetes() string           { return r.r.Kubernetes }
func (r *releaseRow) Staging() string              { return r.r.Staging }
func (r *releaseRow) Etcd() string                 { return r.r.Etcd }
func (r *releaseRow) CoreDNS() string              { return r.r.CoreDNS }
func (r *releaseRow) Containerd() string           { return r.r.Containerd }
func (r *releaseRow) CNIPlugins() string           { return r.r.CNIPlugins }
func (r *releaseRow) Pause() string                { return r.r.Pause }
