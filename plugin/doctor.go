package plugin

import (
	"context"
	_ "embed"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images/builder"
	"github.com/docker-rke/docker-rke/runtime"
)

// doctor checks what up needs on the current docker context, and says for
// each thing what is wrong and how to fix it. Its cheap part (the engine
// answers, a definition's subnets are free) is up's preflight too, so up
// stops early with the same words.

// Check statuses.
const (
	checkOK   = "ok"
	checkWarn = "warn" // up works, but something is worth knowing
	checkFail = "fail" // up would fail
)

// check is one thing up needs, as doctor found it.
type check struct {
	Name, Status, Detail string
	// Fix says how to fix what is not ok.
	Fix string
}

func (c check) String() string {
	s := c.Name + ": " + c.Detail
	if c.Fix != "" {
		s += "; " + c.Fix
	}
	return s
}

// Thresholds of the host's limits, as kind recommends: each node runs a
// kubelet, containerd and an engine, all watching files.
const (
	minInotifyInstances = 512
	minInotifyWatches   = 524288
	minFreeDisk         = 5 << 30  // below: up fails to unpack or to write
	lowFreeDisk         = 20 << 30 // below: a release's images and a few clusters
)

func (a *App) doctorCommand() *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "Check that the current docker context can run clusters, and say how to fix what it cannot",
		ArgsUsage: "[FILE] (also check that the definition's subnets are free)",
		Description: "Checks the engine (answers, its version, cgroups), privileged containers (or the\n" +
			"capability fallback), the host's inotify limits, free disk, kernel modules, the images of\n" +
			"the default release, and with FILE the subnets its clusters name. Exit status 1 when up\n" +
			"would fail.",
		Action: func(c *cli.Context) error {
			var plan *runtime.Plan
			if c.NArg() > 0 {
				var err error
				if plan, err = a.loadPlan(c, c.Args().First()); err != nil {
					return err
				}
			}
			checks := a.doctor(c.Context, plan)
			tw := tabwriter.NewWriter(a.Stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "CHECK\tSTATUS\tFOUND")
			failed := 0
			for _, ch := range checks {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", ch.Name, ch.Status, ch.Detail)
				if ch.Fix != "" {
					fmt.Fprintf(tw, "\t\t  fix: %s\n", ch.Fix)
				}
				if ch.Status == checkFail {
					failed++
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if failed > 0 {
				return cli.Exit(fmt.Sprintf("doctor: %d of %d checks failed: up would fail", failed, len(checks)), 1)
			}
			return nil
		},
	}
}

// doctor runs every check; the host's need the node image of the default
// release.
func (a *App) doctor(ctx context.Context, plan *runtime.Plan) []check {
	api := a.Docker.Client()
	checks := a.preflight(ctx, plan)
	if checks[0].Status == checkFail {
		return checks // no engine, nothing more to ask
	}
	img := anyImage()
	present, err := builder.ImageExists(ctx, api, img)
	switch {
	case err != nil:
		return append(checks, check{"images", checkFail, err.Error(), ""})
	case !present:
		return append(checks,
			check{"images", checkWarn, "the default release's node image " + img + " is not built", "up builds it the first time (Kubernetes compiles for about 15 min), or docker rke images build"},
			check{"host", checkWarn, "not checked: it runs in a container of the node image", "docker rke images build, then doctor again"})
	}
	checks = append(checks, check{"images", checkOK, "node image " + img + " present", ""})
	engine := a.newEngine(quietLog{})
	defer engine.Close()
	switch mode, err := engine.Mode(ctx, img, nil); {
	case err != nil:
		checks = append(checks, check{"privileges", checkFail, err.Error(), "nodes need privileged containers, or every capability: check the engine's security options (rootless engines cannot run nodes)"})
	case mode == dind.Capabilities:
		checks = append(checks, check{"privileges", checkOK, "privileged containers are refused (the engine's capability bounding set lacks CAP_SYS_RESOURCE): nodes get every other capability instead", ""})
	default:
		checks = append(checks, check{"privileges", checkOK, "privileged containers work", ""})
	}
	out, err := engine.RunScript(ctx, img, doctorScript)
	if err != nil {
		return append(checks, check{"host", checkFail, "running a container of the node image: " + err.Error(), "the engine must start containers of docker rke's images"})
	}
	return append(checks, hostChecks(parseKeyValues(out))...)
}

// preflight is doctor's cheap part, which up runs first: the engine
// answers, and the definition's subnets (plan may be nil) are free.
func (a *App) preflight(ctx context.Context, plan *runtime.Plan) []check {
	api := a.Docker.Client()
	checks := []check{engineCheck(ctx, api)}
	if checks[0].Status == checkFail || plan == nil {
		return checks
	}
	nets, err := api.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return append(checks, check{"subnets", checkFail, "listing the engine's networks: " + err.Error(), ""})
	}
	return append(checks, subnetChecks(plan.Clusters, nets)...)
}

// preflightError is up's stop: the failed checks in doctor's words.
func preflightError(checks []check) error {
	var failed []string
	for _, c := range checks {
		if c.Status == checkFail {
			failed = append(failed, c.String())
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%s (docker rke doctor checks the rest)", strings.Join(failed, "\n"))
}

// engineCheck: the engine answers, a Linux one, and what it is.
func engineCheck(ctx context.Context, api client.APIClient) check {
	info, err := api.Info(ctx)
	if err != nil {
		return check{"engine", checkFail, err.Error(), "start the engine (scripts/ensure-engine.sh installs and starts one on Debian), or choose a context that has one (docker context use NAME)"}
	}
	detail := fmt.Sprintf("Docker Engine %s, %s/%s, cgroup v%s (%s driver), %d CPUs, %s memory",
		info.ServerVersion, info.OSType, info.Architecture, info.CgroupVersion, info.CgroupDriver, info.NCPU, units.BytesSize(float64(info.MemTotal)))
	if info.OSType != "linux" {
		return check{"engine", checkFail, detail, "nodes are Linux containers: use an engine that runs Linux containers"}
	}
	return check{"engine", checkOK, detail, ""}
}

// subnetChecks: no subnet a cluster names overlaps a network of the
// engine other than the cluster's own. It is pure.
func subnetChecks(clusters []runtime.Cluster, nets []network.Summary) []check {
	var out []check
	for _, c := range clusters {
		if c.Subnet == "" {
			continue
		}
		want, err := netip.ParsePrefix(c.Subnet)
		if err != nil {
			out = append(out, check{"subnets", checkFail, fmt.Sprintf("cluster %s: subnet %q: %v", c.Name, c.Subnet, err), ""})
			continue
		}
		taken := false
		for _, n := range nets {
			if n.Name == runtime.NetworkName(c.Name) {
				continue
			}
			for _, cfg := range n.IPAM.Config {
				if have, err := netip.ParsePrefix(cfg.Subnet); err == nil && have.Overlaps(want) {
					taken = true
					out = append(out, check{"subnets", checkFail,
						fmt.Sprintf("cluster %s: subnet %s overlaps %s of the engine's network %s", c.Name, c.Subnet, cfg.Subnet, n.Name),
						fmt.Sprintf("name another subnet in the definition, or remove the network (docker network rm %s)", n.Name)})
				}
			}
		}
		if !taken {
			out = append(out, check{"subnets", checkOK, fmt.Sprintf("cluster %s: subnet %s is free", c.Name, c.Subnet), ""})
		}
	}
	return out
}

// doctorScript is doctor.sh (see the file).
//
//go:embed doctor.sh
var doctorScript string

// parseKeyValues reads doctor.sh's key=value lines.
func parseKeyValues(out string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// hostChecks judges what doctor.sh found on the engine's host. It is pure.
func hostChecks(kv map[string]string) []check {
	num := func(k string) (int64, bool) {
		n, err := strconv.ParseInt(kv[k], 10, 64)
		return n, err == nil
	}
	var out []check
	inst, ok1 := num("inotify_instances")
	watches, ok2 := num("inotify_watches")
	switch {
	case !ok1 || !ok2:
		out = append(out, check{"inotify", checkWarn, "could not read the host's inotify limits", ""})
	case inst < minInotifyInstances || watches < minInotifyWatches:
		out = append(out, check{"inotify", checkWarn,
			fmt.Sprintf("max_user_instances %d, max_user_watches %d: clusters of several nodes can run out (kubelets failing with 'too many open files')", inst, watches),
			fmt.Sprintf("on the engine's host: sysctl -w fs.inotify.max_user_instances=%d fs.inotify.max_user_watches=%d", max(inst, minInotifyInstances), max(watches, minInotifyWatches))})
	default:
		out = append(out, check{"inotify", checkOK, fmt.Sprintf("max_user_instances %d, max_user_watches %d", inst, watches), ""})
	}
	free, ok := num("disk_free_kib")
	free <<= 10
	switch {
	case !ok:
		out = append(out, check{"disk", checkWarn, "could not read the free space of the engine's data root", ""})
	case free < minFreeDisk:
		out = append(out, check{"disk", checkFail, units.BytesSize(float64(free)) + " free where the engine keeps images and volumes", "free some (docker system prune, docker rke rm of old clusters); a release's images and a cluster need a few GiB"})
	case free < lowFreeDisk:
		out = append(out, check{"disk", checkWarn, units.BytesSize(float64(free)) + " free where the engine keeps images and volumes: enough for a few clusters", ""})
	default:
		out = append(out, check{"disk", checkOK, units.BytesSize(float64(free)) + " free where the engine keeps images and volumes", ""})
	}
	if kv["module_overlay"] == "yes" {
		out = append(out, check{"overlay", checkOK, "the overlay module is loaded: nodes' containerd unpacks images as overlays", ""})
	} else {
		out = append(out, check{"overlay", checkWarn, "the overlay module is not loaded: nodes fall back to copying image layers (slower, more disk)", "on the engine's host: modprobe overlay"})
	}
	bridge := "not loaded, and not needed: the pod network uses point-to-point links, no bridge"
	if kv["module_br_netfilter"] == "yes" {
		bridge = "loaded (not needed: the pod network uses point-to-point links, no bridge)"
	}
	out = append(out, check{"br_netfilter", checkOK, bridge, ""})
	out = append(out, dnsCheck(strings.Fields(kv["nameservers"])))
	if k := kv["kernel"]; k != "" {
		out = append(out, check{"kernel", checkOK, k, ""})
	}
	return out
}

// dockerFallbackDNS are the resolvers the engine gives containers when its
// host's resolv.conf names only loopback ones (systemd-resolved's
// 127.0.0.53 with no /run/systemd/resolve/resolv.conf behind it, a local
// dnsmasq): containers cannot reach the host's loopback.
var dockerFallbackDNS = []string{"8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844"}

// dnsCheck judges the resolvers containers get: names outside a cluster
// (CoreDNS forwards them through the node to these) resolve only if they
// are reachable. It is pure.
func dnsCheck(servers []string) check {
	const fix = `give the engine the host's upstream resolvers: "dns": ["ADDRESS"] in /etc/docker/daemon.json, then restart it`
	switch {
	case len(servers) == 0:
		return check{"dns", checkWarn, "containers get no resolver: names outside a cluster will not resolve in it", fix}
	case !slices.ContainsFunc(servers, func(s string) bool { return !slices.Contains(dockerFallbackDNS, s) }):
		return check{"dns", checkWarn, "containers get Google's public DNS (" + strings.Join(servers, ", ") + "): the engine's fallback when its host names only loopback resolvers, such as systemd-resolved's 127.0.0.53; on a host without Internet access names outside a cluster will not resolve in it", fix}
	}
	return check{"dns", checkOK, "containers ask " + strings.Join(servers, ", ") + " (through the engine) for names outside a cluster", ""}
}
