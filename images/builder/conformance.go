package builder

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/internal/tarball"
)

// BuildConformance builds what running a release's conformance suite
// needs, each piece only when it is missing or its recipe changed: the
// conformance image (the suite, ginkgo, kubectl and the suite images' Go
// programs, compiled from the release's module), the e2e base (Debian
// with the tools specs call), and every suite image the release's
// e2e.test names that docker rke builds (images.SuiteBuilds), tagged
// under images.SuiteRegistry.
func (b *Builder) BuildConformance(ctx context.Context, rel images.Release) ([]Result, error) {
	var comps []images.Component
	for _, c := range images.Components(rel) {
		// What suite images are built from.
		if c.Name == images.Pause || c.Name == images.Etcd || c.Name == images.CoreDNS {
			comps = append(comps, c)
		}
	}
	comps = append(comps, images.ConformanceComponent(rel))
	results, err := b.Build(ctx, comps)
	if err != nil {
		return results, err
	}
	r, err := b.buildE2EBase(ctx)
	results = append(results, r)
	if err != nil {
		return results, err
	}
	list, err := b.runOnce(ctx, images.ConformanceComponent(rel).Ref, []string{"e2e.test", "--list-images"})
	if err != nil {
		return results, fmt.Errorf("listing the suite's images: %w", err)
	}
	builds := images.SuiteBuilds(rel, string(list))
	if len(builds) == 0 {
		return results, fmt.Errorf("e2e.test %s --list-images names none of the images docker rke builds", rel.Kubernetes)
	}
	builds = append(builds, images.Runner(rel))
	unlock, err := Lock(ctx, func(line string) { b.log.Printf("%s", line) })
	if err != nil {
		return results, err
	}
	defer unlock()
	var moduleDir string
	for _, sb := range builds {
		start := time.Now()
		hash := images.SuiteHash(rel, sb)
		ok, size, err := b.upToDate(ctx, sb.Ref, hash)
		if err != nil {
			return results, err
		}
		if !ok {
			if len(sb.Files) > 0 && moduleDir == "" {
				if moduleDir, err = kubernetesModule(ctx, rel); err != nil {
					return results, err
				}
			}
			b.log.Printf("[images] suite image %s: building", sb.Ref)
			old, _ := b.api.ImageInspect(ctx, sb.Ref)
			if err := b.classicBuild(ctx, sb.Ref, images.SuiteDockerfile(rel, sb), func(tw *tar.Writer) error {
				return addModuleFiles(tw, moduleDir, sb.Files)
			}); err != nil {
				return results, fmt.Errorf("image %s: %w", sb.Ref, err)
			}
			img, err := b.api.ImageInspect(ctx, sb.Ref)
			if err != nil {
				return results, err
			}
			size = img.Size
			if old.ID != "" && old.ID != img.ID {
				// The previous build, untagged now: gone unless in use.
				_, _ = b.api.ImageRemove(ctx, old.ID, image.RemoveOptions{})
			}
		}
		results = append(results, Result{Name: sb.Name, Ref: sb.Ref, Built: !ok, Size: size, Duration: time.Since(start)})
	}
	b.pruneE2EBases(ctx)
	return results, nil
}

// pruneE2EBases removes e2e bases of older recipes that no image uses
// any more (the engine refuses the others).
func (b *Builder) pruneE2EBases(ctx context.Context) {
	repo, _, _ := strings.Cut(images.E2EBase(), ":")
	list, err := b.api.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", repo))})
	if err != nil {
		return
	}
	for _, img := range list {
		for _, tag := range img.RepoTags {
			if tag != images.E2EBase() {
				if _, err := b.api.ImageRemove(ctx, tag, image.RemoveOptions{}); err == nil {
					b.log.Printf("[images] removed the outdated %s", tag)
				}
			}
		}
	}
}

// buildE2EBase builds the e2e base unless the engine has it (its tag is
// its recipe's hash), from the node base: with Debian's apt, in the
// engine's builder.
func (b *Builder) buildE2EBase(ctx context.Context) (Result, error) {
	start := time.Now()
	ref := images.E2EBase()
	r := Result{Name: "e2e-base", Ref: ref}
	if _, _, err := BuildNode(ctx, b.api, NodeOptions{Progress: func(line string) { b.log.Printf("%s", line) }}); err != nil {
		return r, err
	}
	unlock, err := Lock(ctx, func(line string) { b.log.Printf("%s", line) })
	if err != nil {
		return r, err
	}
	defer unlock()
	if ok, err := ImageExists(ctx, b.api, ref); err != nil {
		return r, err
	} else if !ok {
		b.log.Printf("[images] e2e base %s: building busybox and installing Debian's packages (minutes; only when its recipe changes)", ref)
		if err := b.classicBuild(ctx, ref, images.E2EBaseDockerfile(), func(*tar.Writer) error { return nil }); err != nil {
			return r, fmt.Errorf("image %s: %w", ref, err)
		}
		r.Built = true
	}
	img, err := b.api.ImageInspect(ctx, ref)
	if err != nil {
		return r, err
	}
	r.Size, r.Duration = img.Size, time.Since(start)
	return r, nil
}

// kubernetesModule is the folder of the release's k8s.io/kubernetes
// module in Go's module cache (downloaded if need be): some suite images
// carry files of it.
func kubernetesModule(ctx context.Context, rel images.Release) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", "k8s.io/kubernetes@"+rel.Kubernetes)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	cmd.Dir = os.TempDir() // outside any module
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download k8s.io/kubernetes@%s: %w", rel.Kubernetes, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download k8s.io/kubernetes@%s: no folder (%s)", rel.Kubernetes, mod.Error)
	}
	return mod.Dir, nil
}

// addModuleFiles puts files of the module into a build context under
// their base names.
func addModuleFiles(tw *tar.Writer, dir string, files []string) error {
	for _, f := range slices.Sorted(slices.Values(files)) {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return err
		}
		if err := tarball.Add(tw, tarball.File(path.Base(f), 0o644, data)); err != nil {
			return err
		}
	}
	return nil
}
