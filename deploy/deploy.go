// Package deploy carries a cluster's plan out inside its nodes, RKE-style:
// certificates and configs into each node, then etcd on the etcd nodes,
// then the API server, controller-manager and scheduler on the
// controlplane nodes, each a container of the node's own engine, reached
// through the node tunnel. Every step converges (what matches is kept)
// and every wait polls a health endpoint with a deadline.
package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/internal/fanout"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// State is what a cluster keeps between runs (its cluster.rkestate).
type State struct {
	Certificates  pki.Bundle `json:"certificates"`
	EncryptionKey string     `json:"encryptionKey"`
	// Kubeconfig is the absolute path of the kubeconfig up wrote, which
	// rm removes with the cluster.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Server is the API server's URL in the kubeconfig; Servers has both
	// ways to reach it: "address" (the node's address on its network)
	// and "published" (127.0.0.1 on the engine's host).
	Server  string            `json:"server,omitempty"`
	Servers map[string]string `json:"servers,omitempty"`
	// APIContainer is the node container whose API server the kubeconfig
	// names. Its published port is the engine's pick at each start of
	// the node, so `docker rke kubeconfig` reads the port afresh.
	APIContainer string `json:"apiContainer,omitempty"`
	// PodCIDRs is each node's block of the pod CIDR, kept for the life of
	// the node.
	PodCIDRs map[string]string `json:"podCIDRs,omitempty"`
	// Plan is the cluster's plan as the last up carried it out: start,
	// ls and load work from it, without the definition file.
	Plan *runtime.Cluster `json:"plan,omitempty"`
	// Merged are the kubeconfig files up --merge or kubeconfig --merge
	// added the cluster's entries to; rm takes them out again.
	Merged []string `json:"merged,omitempty"`
}

// Options tune Up.
type Options struct {
	// KubeconfigDir is where kube_config_<cluster>.yml is written.
	KubeconfigDir string
	// Published makes the kubeconfig reach the API server on the port
	// published on the engine host's 127.0.0.1 instead of the node's
	// address (for engines whose container addresses cannot be reached).
	Published bool
	// Timeout bounds each wait for a component's health.
	Timeout time.Duration
	Log     dind.Logger
	// Start is when the command started, for Result.Marks.
	Start time.Time
}

// Result says what Up produced.
type Result struct {
	Kubeconfig string
	// KubeconfigData is what was written to Kubeconfig.
	KubeconfigData []byte
	Server         string
	// Phases are the durations of each phase, for progress and bench.
	Phases []Phase
	// Links are the links of the critical path, measured inside the run:
	// etcd from its start to healthy, the first API server from its start
	// to ready, kubelets from their start to every one registered.
	Links map[string]time.Duration
	// Marks are when milestones were reached, since Options.Start.
	Marks map[string]time.Duration
}

// Phase is one timed step.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
}

// NewPhase records a phase's duration.
func NewPhase(name string, d time.Duration) Phase {
	return Phase{Name: name, Duration: d, Seconds: d.Seconds()}
}

// Up deploys the control plane of a cluster whose nodes are up.
func Up(ctx context.Context, e *dind.Engine, api client.APIClient, c runtime.Cluster, nodes []dind.NodeStatus, opts Options) (*Result, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	res := &Result{Links: map[string]time.Duration{}, Marks: map[string]time.Duration{}}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	// mu guards res and filesHash: the control plane and the nodes
	// progress in goroutines of their own.
	var mu sync.Mutex
	link := func(name string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		res.Links[name] = d
	}
	markAt := func(name string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		res.Marks[name] = d
	}
	mark := func(name string) { markAt(name, time.Since(opts.Start)) }
	phase := func(name string, start time.Time) {
		d := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		res.Phases = append(res.Phases, NewPhase(name, d))
		opts.Log.Printf("[%s] %s: done in %s", c.Name, name, d.Round(10*time.Millisecond))
	}

	start := time.Now()
	st, err := loadState(ctx, e, c)
	if err != nil {
		return nil, err
	}
	addrs := map[string]net.IP{}
	modes := map[string]dind.Mode{}
	// Nodes whose container (re)started in this run: their Nodes' Ready
	// and their components' leases are from before.
	since := map[string]time.Time{}
	var restarted []string
	for _, n := range nodes {
		addrs[n.Node] = net.ParseIP(n.Address).To4()
		modes[n.Node] = n.Mode
		if n.Action != dind.Kept {
			since[n.Node] = opts.Start
			restarted = append(restarted, n.Node)
		}
	}
	reqs, err := pki.Requests(c, addrs)
	if err != nil {
		return nil, err
	}
	bundle, made, err := pki.Ensure(st.Certificates, reqs, time.Now())
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Name
	}
	podCIDRs, err := assignPodCIDRs(c.PodCIDR, runtime.NodeCIDRMaskSize, st.PodCIDRs, names)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	cps := nodesWith(c, model.RoleControlPlane)
	servers := map[string]string{"address": fmt.Sprintf("https://%s:%d", addrs[cps[0].Name], runtime.APIServerPort)}
	for _, n := range nodes {
		if n.Node == cps[0].Name && n.APIPort != "" {
			servers["published"] = "https://127.0.0.1:" + n.APIPort
		}
	}
	server := servers["address"]
	if opts.Published {
		if server = servers["published"]; server == "" {
			return nil, fmt.Errorf("cluster %s: node %s publishes no API server port", c.Name, cps[0].Name)
		}
	}
	kubeconfig := filepath.Join(opts.KubeconfigDir, "kube_config_"+c.Name+".yml")
	abs, err := filepath.Abs(kubeconfig)
	if err != nil {
		return nil, err
	}
	// Everything the state holds is known now: save it once, before any
	// node uses the certificates, and only if something changed.
	changed := len(made) > 0 || st.EncryptionKey == "" || abs != st.Kubeconfig || server != st.Server || !maps.Equal(servers, st.Servers) || !maps.Equal(podCIDRs, st.PodCIDRs) || cps[0].ContainerName != st.APIContainer || !samePlan(st.Plan, &c)
	st.Certificates, st.Kubeconfig, st.Server, st.Servers, st.PodCIDRs, st.APIContainer, st.Plan = bundle, abs, server, servers, podCIDRs, cps[0].ContainerName, &c
	if st.EncryptionKey == "" {
		if st.EncryptionKey, err = newEncryptionKey(); err != nil {
			return nil, err
		}
	}
	// The state is saved while the files go into the nodes and etcd
	// starts, and the API servers wait for it: they are the first to keep
	// anything that needs it (Secrets encrypted with its key). An up that
	// dies before leaves etcd with certificates the next up replaces,
	// and no data.
	saveState := func() error {
		if !changed {
			return nil
		}
		if err := SaveState(ctx, e, c.Name, c.NodeImage, st); err != nil {
			return err
		}
		opts.Log.Printf("[%s] certificates: %d made or renewed", c.Name, len(made))
		return nil
	}
	saved := make(chan error, 1)
	go func() { saved <- saveState() }()
	waitSaved := sync.OnceValue(func() error { return <-saved })
	// Every way out waits for it: a failed up's cleanup must not race
	// the state's volume.
	defer func() { _ = waitSaved() }()
	filesHash := map[string]string{}
	enc := encryptionConfig(st.EncryptionKey)
	if err := fanout.Each(c.Nodes, func(_ int, n runtime.Node) error {
		// Routes to the other nodes' pods, while nothing runs yet.
		var peers []peer
		for _, o := range c.Nodes {
			if o.Name != n.Name {
				peers = append(peers, peer{podCIDR: podCIDRs[o.Name], address: addrs[o.Name].String()})
			}
		}
		h, err := installFiles(ctx, api, bundle, c, n, podCIDRs[n.Name], enc, networkScript(c.PodCIDR, peers))
		if err != nil {
			return err
		}
		mu.Lock()
		filesHash[n.Name] = h
		mu.Unlock()
		return nil
	}); err != nil {
		return nil, err
	}
	phase("certificates", start)

	start = time.Now()
	etcd := nodesWith(c, model.RoleEtcd)
	if err := fanout.Each(etcd, func(_ int, n runtime.Node) error {
		if err := waitImages(ctx, e, c, n, model.ComponentEtcd); err != nil {
			return err
		}
		return converge(ctx, e, opts, c.Name, n, filesHash[n.Name], modes[n.Name], model.ComponentEtcd)
	}); err != nil {
		return nil, err
	}
	if err := fanout.Each(etcd, func(_ int, n runtime.Node) error {
		return waitHealthy(ctx, api, opts, c.Name, n, model.ComponentEtcd, plainClient(api, n), "http://127.0.0.1:2381/health", `"health":"true"`)
	}); err != nil {
		return nil, err
	}
	phase("etcd", start)
	link("etcd", time.Since(start))
	mark("etcd")

	// The control plane and the nodes overlap: kubelets start as soon as
	// one API server answers, while the controller-managers and
	// schedulers start; DNS needs them all, and is waited for last.
	cpStart := time.Now()
	admin, err := adminTLS(bundle)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	firstAPI := make(chan runtime.Node, 1)
	var firstOnce sync.Once
	// cpErr is the control plane's outcome, set before cpEnded closes.
	var cpErr error
	cpEnded := make(chan struct{})
	// The first controlplane node's API server starts alone: it writes
	// the cluster's bootstrap objects (RBAC, priority classes, ...), and
	// three API servers doing that at once on two cores, with etcd
	// replicating every write, was measured four times slower. The others
	// start once it answered (or failed).
	firstDone := make(chan struct{})
	var firstDoneOnce sync.Once
	go func() {
		defer close(cpEnded)
		cpErr = fanout.Each(cps, func(_ int, n runtime.Node) error {
			if n.Name == cps[0].Name {
				defer firstDoneOnce.Do(func() { close(firstDone) })
			} else {
				select {
				case <-firstDone:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if err := waitImages(ctx, e, c, n, model.ComponentAPIServer, model.ComponentControllerManager, model.ComponentScheduler); err != nil {
				return err
			}
			if err := waitSaved(); err != nil {
				return err
			}
			// All three at once: the controller-manager's start (its
			// controllers' service accounts and caches, ~5 s on two cores)
			// is on the path to DNS answering, and it waits for the API
			// server by itself.
			if err := converge(ctx, e, opts, c.Name, n, filesHash[n.Name], modes[n.Name], model.ComponentAPIServer, model.ComponentControllerManager, model.ComponentScheduler); err != nil {
				return err
			}
			apiClient := tlsClient(api, n, admin)
			if err := waitHealthy(ctx, api, opts, c.Name, n, model.ComponentAPIServer, apiClient, fmt.Sprintf("https://127.0.0.1:%d/readyz", runtime.APIServerPort), "ok"); err != nil {
				return err
			}
			firstOnce.Do(func() {
				link("apiserver", time.Since(cpStart))
				mark("apiserver")
				firstAPI <- n
			})
			firstDoneOnce.Do(func() { close(firstDone) })
			// Their serving certificates are self-signed: only health is read.
			insecure := tlsClient(api, n, &tls.Config{InsecureSkipVerify: true})
			return fanout.All(
				func() error {
					return waitHealthy(ctx, api, opts, c.Name, n, model.ComponentControllerManager, insecure, "https://127.0.0.1:10257/healthz", "ok")
				},
				func() error {
					return waitHealthy(ctx, api, opts, c.Name, n, model.ComponentScheduler, insecure, "https://127.0.0.1:10259/healthz", "ok")
				},
			)
		})
		if cpErr == nil {
			phase("control plane", cpStart)
			mark("control plane")
		}
	}()
	// On any way out, stop the control plane's goroutine and wait for it.
	defer func() { cancel(); <-cpEnded }()

	var apiNode runtime.Node
	select {
	case apiNode = <-firstAPI:
	case <-cpEnded:
		select {
		case apiNode = <-firstAPI: // sent before the control plane ended
		default:
			if cpErr == nil {
				cpErr = fmt.Errorf("cluster %s: no API server answered", c.Name)
			}
			return nil, cpErr
		}
	}

	start = time.Now()
	kubeletStart := start
	cs, dyn, err := kubeClients(api, apiNode, bundle)
	if err != nil {
		return nil, err
	}
	if err := releaseStaleLeases(ctx, cs, c.Name, restarted, opts.Start, opts.Log); err != nil {
		return nil, err
	}
	// Every Node exists, with its pod block, roles and taints, before its
	// kubelet registers.
	if err := ensureNodes(ctx, cs, c, podCIDRs); err != nil {
		return nil, err
	}
	var dnsCheck *dnsCheck
	defer func() {
		if dnsCheck != nil {
			dnsCheck.cleanup(ctx)
		}
	}()
	if err := fanout.All(
		func() error {
			if err := applyAddons(ctx, dyn, c); err != nil {
				return err
			}
			dnsCheck, err = startDNSCheck(ctx, cs, c, opts.Timeout)
			return err
		},
		func() error {
			return fanout.Each(c.Nodes, func(_ int, n runtime.Node) error {
				var names []string
				for _, name := range []string{runtime.ComponentAPIProxy, model.ComponentKubelet, model.ComponentKubeProxy} {
					if _, ok := component(n, name); ok {
						names = append(names, name)
					}
				}
				if err := waitImages(ctx, e, c, n, names...); err != nil {
					return err
				}
				return converge(ctx, e, opts, c.Name, n, filesHash[n.Name], modes[n.Name], names...)
			})
		},
	); err != nil {
		return nil, err
	}
	phase("kubelets", start)

	start = time.Now()
	prog, err := waitNodesReady(ctx, cs, c, since, opts.Timeout, opts.Log)
	if err != nil {
		return nil, notReadyError(ctx, api, c, prog, opts.Timeout)
	}
	link("kubelet registration", start.Sub(kubeletStart)+prog.registered)
	markAt("kubelets registered", start.Sub(opts.Start)+prog.registered)
	phase("nodes ready", start)
	mark("nodes ready")

	<-cpEnded
	if cpErr != nil {
		return nil, cpErr
	}
	start = time.Now()
	if err := dnsCheck.wait(ctx); err != nil {
		return nil, err
	}
	phase("dns", start)
	mark("dns")

	kc, err := bundle.AdminKubeconfig(c.Name, server)
	if err != nil {
		return nil, err
	}
	res.Server, res.Kubeconfig, res.KubeconfigData = server, kubeconfig, kc
	if err := pki.WriteKubeconfig(kubeconfig, kc); err != nil {
		return nil, err
	}
	return res, nil
}

// LoadState reads a cluster's state; image is any image on the engine.
func LoadState(ctx context.Context, e *dind.Engine, cluster, image string) (*State, error) {
	data, err := e.LoadState(ctx, cluster, image)
	if errors.Is(err, dind.ErrNoState) {
		return &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("cluster %s: state: %w", cluster, err)
	}
	return &st, nil
}

// SaveState writes a cluster's state; image is any image on the engine.
func SaveState(ctx context.Context, e *dind.Engine, cluster, image string, st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return e.SaveState(ctx, cluster, image, data)
}

// samePlan says whether the state holds this plan already.
func samePlan(have, want *runtime.Cluster) bool {
	if have == nil {
		return false
	}
	a, errA := json.Marshal(have)
	b, errB := json.Marshal(want)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

func loadState(ctx context.Context, e *dind.Engine, c runtime.Cluster) (*State, error) {
	return LoadState(ctx, e, c.Name, c.NodeImage)
}

// NetworkScriptPath is where a node keeps its network script: up runs it
// after installing it, and the node's entrypoint runs it again whenever
// the node restarts (a restarted container has a new network namespace,
// without the routes and rules up set; node addresses are fixed, so the
// script stays right).
const NetworkScriptPath = "/etc/docker-rke/network.sh"

// installFiles puts a node's files and network script in place, then runs
// the script, in one exec: tar reads the files on stdin. (The engine's
// copy API executes dockerd once more for every copy, which costs more
// CPU than the exec while every node starts at once.) It returns the hash
// of the files components read; the script, which names every peer, is
// not in it, so adding a node restarts no component.
func installFiles(ctx context.Context, api client.APIClient, b pki.Bundle, c runtime.Cluster, n runtime.Node, podCIDR string, enc []byte, network string) (string, error) {
	files, err := nodeFiles(b, c, n, podCIDR, enc)
	if err != nil {
		return "", fmt.Errorf("node %s: %w", n.Name, err)
	}
	data, err := tarFiles(append(files[:len(files):len(files)], file{path: NetworkScriptPath, data: []byte(network), mode: 0o755}))
	if err != nil {
		return "", err
	}
	script := "tar -x -m -C / --no-overwrite-dir -f -\nsh -e " + NetworkScriptPath + "\n"
	if _, err := dind.ExecInput(ctx, api, n.ContainerName, []string{"sh", "-ec", script}, bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("cluster %s node %s: installing certificates and pod routes: %w", c.Name, n.Name, err)
	}
	return filesDigest(files), nil
}

// converge brings components of a node to the plan, in parallel, through
// the engine's client of the node, whose connections every step shares.
func converge(ctx context.Context, e *dind.Engine, opts Options, cluster string, n runtime.Node, filesHash string, mode dind.Mode, names ...string) error {
	nodeAPI, err := e.NodeClient(n.ContainerName)
	if err != nil {
		return err
	}
	checks := make([]func() error, len(names))
	for i, name := range names {
		checks[i] = func() error {
			comp, ok := component(n, name)
			if !ok {
				return fmt.Errorf("node %s: no %s in the plan", n.Name, name)
			}
			action, err := dind.ConvergeComponent(ctx, nodeAPI, comp, filesHash, mode)
			if err != nil {
				return fmt.Errorf("cluster %s node %s (container %s): %w", cluster, n.Name, n.ContainerName, err)
			}
			opts.Log.Printf("[%s] node %s: %s %s", cluster, n.Name, name, action)
			return nil
		}
	}
	return fanout.All(checks...)
}

// waitHealthy polls a component's health endpoint inside the node until it
// answers with want, or fails with the component's last log lines.
func waitHealthy(ctx context.Context, api client.APIClient, opts Options, cluster string, n runtime.Node, name string, hc *http.Client, url, want string) error {
	defer hc.CloseIdleConnections()
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, opts.Timeout, true, func(ctx context.Context) (bool, error) {
		var ok bool
		ok, last = get(ctx, hc, url, want)
		return ok, nil
	})
	if err != nil {
		return fmt.Errorf("cluster %s node %s: %s not healthy at %s within %s (last answer: %s); its last log lines:\n%s", cluster, n.Name, name, url, opts.Timeout, last, logTail(ctx, api, n, name))
	}
	opts.Log.Printf("[%s] node %s: %s healthy", cluster, n.Name, name)
	return nil
}

// get asks a health endpoint once, and says whether it answered 200 with
// want in its body, and what it answered.
func get(ctx context.Context, hc *http.Client, url, want string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(want)), fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
}

// plainClient and tlsClient reach a node's loopback. Every new connection
// is an exec in the node (socat), which costs the node's CPU: connections
// are kept and reused between polls.
func plainClient(api client.APIClient, n runtime.Node) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: dind.NodeLocalDialer(api, n.ContainerName), MaxIdleConnsPerHost: 1, IdleConnTimeout: 10 * time.Second}}
}

func tlsClient(api client.APIClient, n runtime.Node, cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: dind.NodeLocalDialer(api, n.ContainerName), TLSClientConfig: cfg, MaxIdleConnsPerHost: 1, IdleConnTimeout: 10 * time.Second}}
}

// adminTLS trusts the cluster CA and presents the admin certificate.
func adminTLS(b pki.Bundle) (*tls.Config, error) {
	ca, err := b[pki.CA].Parsed()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	pair, err := tls.X509KeyPair(b["kube-admin"].CertPEM, b["kube-admin"].KeyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}, nil
}

// waitImages waits until the node has loaded the images the components
// run from: the pause image (loaded first) or the runtime image (loaded
// last, after it).
func waitImages(ctx context.Context, e *dind.Engine, c runtime.Cluster, n runtime.Node, names ...string) error {
	static := false
	for _, name := range names {
		comp, ok := component(n, name)
		switch {
		case !ok:
		case comp.Image == c.Images.Runtime:
			return e.WaitImagesLoaded(ctx, n.ContainerName)
		case comp.Image == c.Probe.Image:
			static = true
		}
	}
	if static {
		return e.WaitStaticImageLoaded(ctx, n.ContainerName)
	}
	return nil
}

func component(n runtime.Node, name string) (runtime.Component, bool) {
	for _, c := range n.Components {
		if c.Name == name {
			return c, true
		}
	}
	return runtime.Component{}, false
}

func nodesWith(c runtime.Cluster, r model.Role) []runtime.Node {
	var out []runtime.Node
	for _, n := range c.Nodes {
		if n.HasRole(r) {
			out = append(out, n)
		}
	}
	return out
}

// logTail is the last lines of a component's log in a node, for errors;
// it reads them even when the run was cancelled.
func logTail(ctx context.Context, api client.APIClient, n runtime.Node, component string) string {
	nodeAPI, err := dind.NodeClient(dind.ExecDialerFactory(api), n.ContainerName)
	if err != nil {
		return "(no logs: " + err.Error() + ")"
	}
	defer nodeAPI.Close()
	return dind.ComponentLogs(context.WithoutCancel(ctx), nodeAPI, component, 15)
}

// notReadyError names every node that is not Ready, why, and the last
// lines of its kubelet's log.
func notReadyError(ctx context.Context, api client.APIClient, c runtime.Cluster, prog nodeProgress, timeout time.Duration) error {
	notReady := prog.notReady
	names := slices.Sorted(maps.Keys(notReady))
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s: not every node Ready within %s:", c.Name, timeout)
	if prog.apiErr != nil {
		fmt.Fprintf(&b, "\n  listing Nodes: %v", prog.apiErr)
	}
	for _, name := range names {
		fmt.Fprintf(&b, "\n  node %s: %s", name, notReady[name])
	}
	for _, n := range c.Nodes {
		if _, ok := notReady[n.Name]; !ok {
			continue
		}
		fmt.Fprintf(&b, "\nkubelet on node %s, last lines:\n%s", n.Name, logTail(ctx, api, n, model.ComponentKubelet))
	}
	return errors.New(b.String())
}
