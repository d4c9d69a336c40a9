// Package conformance runs the upstream Kubernetes conformance suite of a
// cluster's release against it, air-gapped: e2e.test under the ginkgo CLI
// in one container of the release's runner image (images.Runner) on the
// outer engine, in the engine host's network (where the API server's port
// is published on 127.0.0.1), with the suite pointed at the images docker
// rke built (images.RepoList), which the caller has loaded into the nodes.
// The suite's JUnit report and a summary land in a folder.
package conformance

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/internal/oneshot"
	"github.com/docker-rke/docker-rke/internal/tarball"
)

// trailingTags are the bracketed tags that end a spec's name.
var trailingTags = regexp.MustCompile(`( \[[^\]]*\])+$`)

// Which specs a run takes.
const (
	// Parallel are the conformance specs that may run side by side.
	Parallel = "Conformance && !Serial && !Disruptive"
	// Serial are the ones that must run alone (one process).
	Serial = "Conformance && Serial"
)

// Options say what to run against which cluster.
type Options struct {
	Cluster string
	Release images.Release
	// Kubeconfig is the cluster's admin kubeconfig, reaching the API
	// server from the engine's host.
	Kubeconfig    []byte
	ClusterDomain string
	// NonBlockingTaints are taint keys of nodes the suite must not wait
	// for (RKE's controlplane and etcd roles).
	NonBlockingTaints []string
	// LabelFilter picks specs by label (Parallel, Serial); Focus, when
	// set, keeps only the specs with these full names, FocusRegexp only
	// those whose names it matches (ginkgo's --focus).
	LabelFilter string
	Focus       []string
	FocusRegexp string
	// Procs is how many suite processes run specs side by side.
	Procs int
	// Timeout bounds the whole suite (0: a day).
	Timeout time.Duration
	// ReportDir receives the JUnit report, e2e.log and summary.json.
	ReportDir string
	// Output receives the suite's progress as it runs.
	Output io.Writer
}

// Paths in the runner container.
const (
	dir        = "/conformance"
	kubeconfig = dir + "/kubeconfig"
	repoList   = dir + "/repo-list.yaml"
	reportDir  = dir + "/report"
)

// LabelRunner marks the runner container with its cluster's name.
const LabelRunner = "io.docker-rke.conformance"

// Args are the runner's command: the ginkgo CLI running e2e.test with
// the flags a docker rke cluster needs. It is pure.
func Args(opts Options) []string {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 24 * time.Hour // ginkgo's own default, 1h, is too short for the whole suite
	}
	args := []string{"ginkgo", "--procs=" + strconv.Itoa(max(opts.Procs, 1)), "--no-color", "--silence-skips",
		"--timeout=" + timeout.String()}
	if opts.LabelFilter != "" {
		args = append(args, "--label-filter="+opts.LabelFilter)
	}
	if len(opts.Focus) > 0 {
		// A name without its trailing tags, then a tag: releases order
		// the tags differently ("[NodeConformance] [Conformance]" before
		// v1.37), and a longer name that starts the same is another spec.
		quoted := make([]string, len(opts.Focus))
		for i, f := range opts.Focus {
			quoted[i] = regexp.QuoteMeta(trailingTags.ReplaceAllString(f, "")) + ` \[`
		}
		args = append(args, "--focus="+strings.Join(quoted, "|"))
	}
	if opts.FocusRegexp != "" {
		args = append(args, "--focus="+opts.FocusRegexp)
	}
	args = append(args, "/usr/local/bin/e2e.test", "--",
		"--provider=skeleton",
		"--kubeconfig="+kubeconfig,
		"--kubectl-path=/usr/local/bin/kubectl",
		"--report-dir="+reportDir,
		// No cluster/log-dump.sh here: docker rke logs shows the nodes'.
		"--disable-log-dump",
		"--dns-domain="+opts.ClusterDomain,
	)
	if len(opts.NonBlockingTaints) > 0 {
		args = append(args, "--non-blocking-taints="+strings.Join(opts.NonBlockingTaints, ","))
	}
	return args
}

// RunnerName is the runner container of a cluster: one run at a time.
func RunnerName(cluster string) string { return "rke-conformance-" + cluster }

// Run runs the suite and returns its summary, also written with the JUnit
// report and the suite's log into opts.ReportDir. The runner container
// goes whatever happens. A run whose specs failed returns the summary and
// an error that names them.
func Run(ctx context.Context, api client.APIClient, opts Options) (*Summary, error) {
	ref := images.Runner(opts.Release).Ref
	if err := os.MkdirAll(opts.ReportDir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster %s: report folder: %w", opts.Cluster, err)
	}
	logFile, err := os.Create(filepath.Join(opts.ReportDir, "e2e.log"))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", opts.Cluster, err)
	}
	defer logFile.Close()

	start := time.Now()
	out := io.MultiWriter(logFile, opts.Output)
	exit, err := oneshot.Run(ctx, api, oneshot.Options{
		Config: &container.Config{
			Image:      ref,
			Entrypoint: Args(opts)[:1],
			Cmd:        Args(opts)[1:],
			Env:        []string{"KUBE_TEST_REPO_LIST=" + repoList, "HOME=" + dir},
			WorkingDir: dir,
			Labels:     map[string]string{LabelRunner: opts.Cluster},
		},
		Host:   &container.HostConfig{NetworkMode: "host"},
		Name:   RunnerName(opts.Cluster),
		Input:  inputs(opts),
		Stdout: out,
		Stderr: out,
		Finish: func(ctx context.Context, id string) error { return copyReport(ctx, api, id, opts.ReportDir) },
	})
	var notMade *oneshot.CreateError
	switch {
	case errors.As(err, &notMade) && cerrdefs.IsConflict(err):
		return nil, fmt.Errorf("cluster %s: a conformance run is going on already (container %s): wait for it, or docker rm -f %s", opts.Cluster, RunnerName(opts.Cluster), RunnerName(opts.Cluster))
	case errors.As(err, &notMade) && cerrdefs.IsNotFound(err):
		return nil, fmt.Errorf("cluster %s: no image %s: docker rke images build --e2e --kubernetes-version %s builds it", opts.Cluster, ref, opts.Release.Kubernetes)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("cluster %s: conformance run stopped: %w", opts.Cluster, ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("cluster %s: runner %s: %w", opts.Cluster, RunnerName(opts.Cluster), err)
	}
	sum, err := summarize(opts, time.Since(start))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: the suite ended with exit status %d and %w (its log: %s)", opts.Cluster, exit, err, logFile.Name())
	}
	if err := sum.Write(filepath.Join(opts.ReportDir, "summary.json")); err != nil {
		return sum, err
	}
	switch {
	case len(sum.FailedSpecs) > 0:
		return sum, fmt.Errorf("cluster %s: %d of %d specs failed: %s", opts.Cluster, sum.Failed, sum.Passed+sum.Failed, strings.Join(sum.FailedSpecs, "; "))
	case exit != 0:
		return sum, fmt.Errorf("cluster %s: the suite ended with exit status %d (its log: %s)", opts.Cluster, exit, logFile.Name())
	case sum.Passed == 0:
		return sum, fmt.Errorf("cluster %s: no spec ran (its log: %s)", opts.Cluster, logFile.Name())
	}
	return sum, nil
}

// inputs is what the runner reads: the kubeconfig (0600) and the list of
// registries that points the suite at docker rke's images.
func inputs(opts Options) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tarball.Add(tw,
		tarball.Entry{Header: tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(dir, "/") + "/", Mode: 0o755}},
		tarball.Entry{Header: tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(reportDir, "/") + "/", Mode: 0o755}},
		tarball.File(strings.TrimPrefix(kubeconfig, "/"), 0o600, opts.Kubeconfig),
		tarball.File(strings.TrimPrefix(repoList, "/"), 0o644, []byte(images.RepoList(opts.Release))),
	)
	_ = tw.Close()
	return &buf
}

// copyReport copies the runner's report folder into dst: the JUnit file
// and whatever else the suite wrote there.
func copyReport(ctx context.Context, api client.APIClient, id, dst string) error {
	rc, _, err := api.CopyFromContainer(ctx, id, reportDir)
	if err != nil {
		return fmt.Errorf("reading the report: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the report: %w", err)
		}
		// The archive's top folder is "report/"; only plain files below
		// it, by their base names: nothing the suite wrote can land
		// outside dst.
		if h.Typeflag != tar.TypeReg {
			continue
		}
		target := filepath.Join(dst, path.Base(h.Name))
		f, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
