package plugin

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/runtime"
)

// auditLog is the name logs takes for the API server's audit log.
const auditLog = "audit"

func (a *App) logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "Show the log of a cluster's component, or the API server's audit log",
		ArgsUsage: "CLUSTER COMPONENT",
		Description: "COMPONENT is one of etcd, kube-apiserver, kube-controller-manager, kube-scheduler,\n" +
			"kubelet, kube-proxy, api-proxy, or audit: the API server's audit log (one JSON event\n" +
			"per request: who, what, when, the result; never a body), kept in each controlplane\n" +
			"node's " + runtime.AuditLogDir + " and rotated there. With several nodes, each line starts\n" +
			"with its node's name.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "node", Aliases: []string{"n"}, Usage: "show this node's log only (repeat for more); default: every node that runs COMPONENT"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep showing new lines until interrupted"},
			&cli.IntFlag{Name: "tail", Value: -1, Usage: "show this many lines from the end of each node's log; default: all"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show timestamps (components' logs)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return cli.Exit("logs needs a CLUSTER and a COMPONENT, e.g. docker rke logs cluster1 kube-apiserver (or audit)", 2)
			}
			cluster, component := c.Args().Get(0), c.Args().Get(1)
			engine := a.newEngine(newStepLog(a.Stderr))
			defer engine.Close()
			st, err := deploy.LoadState(c.Context, engine, cluster, anyImage())
			if err != nil {
				return err
			}
			if st.Plan == nil {
				return fmt.Errorf("cluster %s: no control plane yet (docker rke up brings it up)", cluster)
			}
			nodes, err := nodesRunning(*st.Plan, component, c.StringSlice("node"))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			names := make([]string, len(nodes))
			for i, n := range nodes {
				names[i] = n.Name
			}
			running, err := engine.RunningNodes(c.Context, cluster, names)
			if err != nil {
				return err
			}
			opts := dind.LogsOptions{Tail: c.Int("tail"), Follow: c.Bool("follow"), Timestamps: c.Bool("timestamps")}
			out := newPrefixer(a.Stdout, names)
			defer out.Flush()
			return fanout.Each(running, func(_ int, n dind.NodeInfo) error {
				w := out.For(n.Name)
				defer w.Flush()
				if component == auditLog {
					return engine.StreamFile(c.Context, n.Container, runtime.AuditLog, opts, w)
				}
				return engine.StreamComponentLogs(c.Context, n.Container, component, opts, w, w)
			})
		},
	}
}

// logComponents lists what logs can show.
func logComponents() []string {
	return []string{model.ComponentEtcd, model.ComponentAPIServer, model.ComponentControllerManager, model.ComponentScheduler,
		model.ComponentKubelet, model.ComponentKubeProxy, runtime.ComponentAPIProxy, auditLog}
}

// nodesRunning picks the plan's nodes that run a component (the audit
// log: those that run the API server), of those named if any are.
func nodesRunning(plan runtime.Cluster, component string, only []string) ([]runtime.Node, error) {
	if !slices.Contains(logComponents(), component) {
		return nil, fmt.Errorf("no component %q: want one of %s", component, strings.Join(logComponents(), ", "))
	}
	runs := component
	if component == auditLog {
		runs = model.ComponentAPIServer
	}
	var out, named []runtime.Node
	for _, n := range plan.Nodes {
		if slices.ContainsFunc(n.Components, func(c runtime.Component) bool { return c.Name == runs }) {
			out = append(out, n)
		}
	}
	if len(only) == 0 {
		return out, nil
	}
	for _, name := range only {
		i := slices.IndexFunc(out, func(n runtime.Node) bool { return n.Name == name })
		if i < 0 {
			var have []string
			for _, n := range out {
				have = append(have, n.Name)
			}
			return nil, fmt.Errorf("cluster %s: node %q does not run %s; the nodes that do: %s", plan.Name, name, runs, strings.Join(have, ", "))
		}
		named = append(named, out[i])
	}
	return named, nil
}

// prefixer writes whole lines from several nodes to one writer, each line
// started with its node's name when there is more than one node, as
// docker compose logs does with services.
type prefixer struct {
	mu    sync.Mutex
	out   io.Writer
	width int
	many  bool
}

func newPrefixer(out io.Writer, nodes []string) *prefixer {
	p := &prefixer{out: out, many: len(nodes) > 1}
	for _, n := range nodes {
		p.width = max(p.width, len(n))
	}
	return p
}

// For returns the writer of one node's lines.
func (p *prefixer) For(node string) *lineWriter {
	prefix := ""
	if p.many {
		prefix = fmt.Sprintf("%-*s | ", p.width, node)
	}
	return &lineWriter{p: p, prefix: []byte(prefix)}
}

// Flush does nothing: lines are written whole as they end; a node's
// writer flushes its last, unterminated line.
func (p *prefixer) Flush() {}

type lineWriter struct {
	p      *prefixer
	prefix []byte
	buf    []byte
}

func (w *lineWriter) Write(data []byte) (int, error) {
	w.buf = append(w.buf, data...)
	end := bytes.LastIndexByte(w.buf, '\n')
	if end < 0 {
		return len(data), nil
	}
	if err := w.emit(w.buf[:end+1]); err != nil {
		return 0, err
	}
	w.buf = append(w.buf[:0], w.buf[end+1:]...)
	return len(data), nil
}

// Flush writes what is left, a line without its newline.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		_ = w.emit(append(w.buf, '\n'))
		w.buf = w.buf[:0]
	}
}

func (w *lineWriter) emit(lines []byte) error {
	var b bytes.Buffer
	for _, line := range bytes.SplitAfter(lines, []byte("\n")) {
		if len(line) > 0 {
			b.Write(w.prefix)
			b.Write(line)
		}
	}
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	_, err := w.p.out.Write(b.Bytes())
	return err
}
