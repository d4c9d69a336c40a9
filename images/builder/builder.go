// Package builder builds every image a cluster runs, locally: Go binaries
// from the Go module proxy, compiled by the host's Go toolchain in wrapper
// modules kept under _recipes, and assembled with the few Debian files they
// need at run time into images imported through the engine's API. No
// registry is contacted. An image is rebuilt only when its recipe changed:
// the recipe hash is stored in a label of the image, so a run with nothing
// changed only compares labels.
package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/internal/oneshot"
)

// Logger receives progress lines.
type Logger interface {
	Printf(format string, args ...any)
}

// Builder builds component images on one engine.
type Builder struct {
	api  client.APIClient
	log  Logger
	opts Options
}

// Options tune a Builder.
type Options struct {
	// CacheDir keeps the wrapper modules and binaries between runs (the
	// Go build and module caches are Go's own).
	CacheDir string
	// ModeCache, if set, remembers how this engine runs nodes: a
	// release's node image is booted once while it is built.
	ModeCache dind.ModeCache
}

// New returns a Builder.
func New(api client.APIClient, log Logger, opts Options) *Builder {
	return &Builder{api: api, log: log, opts: opts}
}

// Result is what happened to one image.
type Result struct {
	Name     string        `json:"name"`
	Ref      string        `json:"ref"`
	Built    bool          `json:"built"`
	Size     int64         `json:"size"`
	Duration time.Duration `json:"duration"`
}

// goVersion is the host toolchain that builds everything.
func goVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("building images needs the Go toolchain (go on PATH): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// upToDate reports whether the engine has ref built from recipe hash.
func (b *Builder) upToDate(ctx context.Context, ref, hash string) (bool, int64, error) {
	img, err := b.api.ImageInspect(ctx, ref)
	switch {
	case cerrdefs.IsNotFound(err):
		return false, 0, nil
	case err != nil:
		return false, 0, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	return img.Config != nil && img.Config.Labels[images.LabelRecipe] == hash, img.Size, nil
}

// Build builds every component that is missing or whose recipe changed,
// one after the other (each go build uses every core). It holds the
// machine-wide image build lock, so concurrent runs wait for each other
// instead of racing.
func (b *Builder) Build(ctx context.Context, comps []images.Component) ([]Result, error) {
	gover, err := goVersion(ctx)
	if err != nil {
		return nil, err
	}
	unlock, err := Lock(ctx, func(line string) { b.log.Printf("%s", line) })
	if err != nil {
		return nil, err
	}
	defer unlock()

	var results []Result
	var needRuntime bool
	todo := map[string]string{}
	for _, c := range comps {
		start := time.Now()
		hash := images.ComponentHash(c)
		ok, size, err := b.upToDate(ctx, c.Ref, hash)
		if err != nil {
			return results, err
		}
		if ok {
			results = append(results, Result{Name: c.Name, Ref: c.Ref, Size: size, Duration: time.Since(start)})
			continue
		}
		todo[c.Name] = hash
		needRuntime = needRuntime || c.Runtime
	}
	if len(todo) == 0 {
		return results, nil
	}
	goos, goarch, err := b.platform(ctx)
	if err != nil {
		return results, err
	}
	var rt *runtimeFiles
	if needRuntime {
		if rt, err = b.runtimeFiles(ctx); err != nil {
			return results, err
		}
	}
	for _, c := range comps {
		hash, ok := todo[c.Name]
		if !ok {
			continue
		}
		start := time.Now()
		b.log.Printf("[images] %s %s: building", c.Name, c.Version)
		bins, err := b.compile(ctx, c, compileOptions{goVersion: gover, goos: goos, goarch: goarch})
		if err != nil {
			return results, fmt.Errorf("image %s: %w", c.Ref, err)
		}
		size, err := b.assemble(ctx, c, hash, bins, rt)
		if err != nil {
			return results, fmt.Errorf("image %s: %w", c.Ref, err)
		}
		b.log.Printf("[images] %s %s: built %s in %s", c.Name, c.Version, c.Ref, time.Since(start).Round(time.Second))
		results = append(results, Result{Name: c.Name, Ref: c.Ref, Built: true, Size: size, Duration: time.Since(start)})
	}
	sort.SliceStable(results, func(i, j int) bool { return order(comps, results[i].Name) < order(comps, results[j].Name) })
	return results, nil
}

func order(comps []images.Component, name string) int {
	for i, c := range comps {
		if c.Name == name {
			return i
		}
	}
	return len(comps)
}

// compileOptions say how compile builds: with which Go, for which
// platform.
type compileOptions struct {
	goVersion    string
	goos, goarch string
}

// platform is the OS and architecture of the engine's host, for Go: the
// binaries run inside its nodes, whatever the client runs on (a Mac with
// Docker Desktop builds for linux/arm64 or linux/amd64 alike).
func (b *Builder) platform(ctx context.Context) (goos, goarch string, err error) {
	info, err := b.api.Info(ctx)
	if err != nil {
		return "", "", fmt.Errorf("engine info: %w", err)
	}
	goarch, ok := goArch(info.Architecture)
	if !ok {
		return "", "", fmt.Errorf("the engine runs on %s/%s, which docker rke does not build for", info.OSType, info.Architecture)
	}
	return info.OSType, goarch, nil
}

// goArch is Go's name of an architecture as the engine reports it (the
// kernel's, uname -m).
func goArch(machine string) (string, bool) {
	a, ok := map[string]string{"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[machine]
	return a, ok
}

// compile writes the component's wrapper module under the cache directory
// and builds its binaries there with the host's Go, statically, for the
// engine's platform.
func (b *Builder) compile(ctx context.Context, c images.Component, opts compileOptions) (map[string]string, error) {
	if len(c.Binaries) == 0 {
		return map[string]string{}, nil
	}
	dir := filepath.Join(b.opts.CacheDir, "src", c.Name+"-"+c.Version)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	files, err := images.Recipe(c)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		target := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, bin := range c.Binaries {
		dst := filepath.Join(dir, "bin", path.Base(bin.Path))
		ldflags := append([]string{"-s", "-w"}, bin.LDFlags...)
		verb := []string{"build"}
		if bin.Test {
			verb = []string{"test", "-c"}
		}
		args := append(verb, "-trimpath", "-ldflags", strings.Join(ldflags, " "), "-o", dst, bin.Package)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+opts.goos, "GOARCH="+opts.goarch, "GOFLAGS=-mod=readonly -buildvcs=false", "GOTOOLCHAIN=local")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
		b.log.Printf("[images] %s %s: go %s %s (%s, %s/%s)", c.Name, c.Version, strings.Join(verb, " "), bin.Package, opts.goVersion, opts.goos, opts.goarch)
		if output, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go %s %s: %w\n%s", strings.Join(verb, " "), bin.Package, err, oneshot.Tail(string(output), 30))
		}
		out[bin.Path] = dst
	}
	return out, nil
}

// ErrUnknownVersion is returned for a Kubernetes version without a recipe.
var ErrUnknownVersion = errors.New("unknown Kubernetes version")
