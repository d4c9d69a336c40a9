package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/opencontainers/go-digest"
	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/images/builder"
	"github.com/docker-rke/docker-rke/model"
)

// Images from a lab registry: build once on one Linux machine, push the
// releases there, and every other machine's up pulls the node image
// instead of building it (c.ImageRegistry, private_registries is_default).
// A pull is pinned: the registry's digest for the tag is read first and
// the image pulled by that digest, so the engine checks every byte against
// it; the image must then carry the recipe hash its tag names, or it is not
// what this docker rke would have built and up refuses it.

func (a *App) imagesPushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "Push releases' images to a registry, for up on machines that pull instead of building",
		ArgsUsage: "REGISTRY (a registry name and an optional path, e.g. registry.lab:5000/team)",
		Description: "Pushes each release's node image and its component images (those private_registries\n" +
			"is_default makes clusters pull) as REGISTRY/docker-rke/...:TAG, and prints each one's\n" +
			"digest. Clusters whose definition names the registry (c.ImageRegistry, is_default) pull\n" +
			"the node image by that digest when the engine lacks it. docker login works as for docker push.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "kubernetes-version", Usage: "a release to push (repeat for more); default: the default release"},
			&cli.BoolFlag{Name: "all", Usage: "every release docker rke builds"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("images push needs exactly one REGISTRY, e.g. docker rke images push registry.lab:5000", 2)
			}
			registry := c.Args().First()
			if msg := model.ImageRegistryProblem(registry); msg != "" {
				return cli.Exit(fmt.Sprintf("images push %s: %s", registry, msg), 2)
			}
			rels, err := releasesFlag(c)
			if err != nil {
				return err
			}
			var refs []string
			for _, rel := range rels {
				d := rel.Defaults()
				for _, ref := range []string{images.NodeImage(rel), d.Kubernetes, d.Etcd, d.CoreDNS, d.Pause, d.CNI} {
					if !slices.Contains(refs, ref) { // releases share components
						refs = append(refs, ref)
					}
				}
			}
			if err := a.requireImages(c.Context, refs); err != nil {
				return err
			}
			for _, ref := range refs {
				start := time.Now()
				pinned, err := a.pushImage(c.Context, ref, registry+"/"+ref)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "%s pushed in %s\n", pinned, time.Since(start).Round(100*time.Millisecond))
			}
			return nil
		},
	}
}

// pushImage pushes the engine's image src as remote (tagged for the
// push, untagged after) and returns remote pinned to the digest the
// registry then serves for it.
func (a *App) pushImage(ctx context.Context, src, remote string) (string, error) {
	api := a.Docker.Client()
	auth, err := command.RetrieveAuthTokenFromImage(a.Docker.ConfigFile(), remote)
	if err != nil {
		return "", fmt.Errorf("pushing %s: credentials for %s: %w", src, remote, err)
	}
	// The push goes by a tag of the registry's name. One the user made
	// stays; one of another image is theirs too, and is not moved.
	srcImg, err := api.ImageInspect(ctx, src)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", src, err)
	}
	switch existing, err := api.ImageInspect(ctx, remote); {
	case err == nil && existing.ID != srcImg.ID:
		return "", fmt.Errorf("pushing %s: %s names another image on this engine (%s): remove that tag, or push to another registry path", src, remote, existing.ID)
	case err == nil:
	case cerrdefs.IsNotFound(err):
		if err := api.ImageTag(ctx, src, remote); err != nil {
			return "", fmt.Errorf("pushing %s: tagging it %s: %w", src, remote, err)
		}
		defer func() { _, _ = api.ImageRemove(context.WithoutCancel(ctx), remote, image.RemoveOptions{}) }()
	default:
		return "", fmt.Errorf("pushing %s: inspecting %s: %w", src, remote, err)
	}
	rc, err := api.ImagePush(ctx, remote, image.PushOptions{RegistryAuth: auth})
	if err == nil {
		err = drainProgress(rc)
	}
	if err != nil {
		return "", fmt.Errorf("pushing %s to %s: %w", src, remote, err)
	}
	d, err := api.DistributionInspect(ctx, remote, auth)
	if err != nil {
		return "", fmt.Errorf("pushed %s, but the registry does not say its digest: %w", remote, err)
	}
	return pinnedRef(remote, d.Descriptor.Digest)
}

// pullNodeImage puts the release's node image on the engine from
// registry: the registry's digest for the tag is read, the image pulled by
// that digest (the engine verifies the content against it), checked to be
// the build of this docker rke's recipes, and tagged with the local name
// up runs. It returns the pinned reference it pulled.
func (a *App) pullNodeImage(ctx context.Context, registry string, rel images.Release, log *stepLog) (string, error) {
	api := a.Docker.Client()
	local := images.NodeImage(rel)
	remote := registry + "/" + local
	// As builds are: two ups at once pull once, and neither removes
	// what the other is checking.
	unlock, err := builder.Lock(ctx, func(line string) { log.Printf("%s", line) })
	if err != nil {
		return "", err
	}
	defer unlock()
	if ok, err := builder.ImageExists(ctx, api, local); err != nil || ok {
		return "", err
	}
	auth, err := command.RetrieveAuthTokenFromImage(a.Docker.ConfigFile(), remote)
	if err != nil {
		return "", fmt.Errorf("pulling %s: credentials: %w", remote, err)
	}
	d, err := api.DistributionInspect(ctx, remote, auth)
	switch {
	case err != nil && strings.Contains(err.Error(), "manifest unknown"):
		return "", fmt.Errorf("the cluster's image registry %s has no node image %s: docker rke images push %s on a machine that built it, or drop the registry from the definition to build it here: %w", registry, local, registry, err)
	case err != nil:
		return "", fmt.Errorf("reading the digest of %s from the cluster's image registry (is it reachable, and does the engine trust it, as for docker pull?): %w", remote, err)
	}
	pinned, err := pinnedRef(remote, d.Descriptor.Digest)
	if err != nil {
		return "", err
	}
	log.Printf("node image %s is not on the engine: pulling it from %s as %s", local, registry, pinned)
	rc, err := api.ImagePull(ctx, pinned, image.PullOptions{RegistryAuth: auth})
	if err == nil {
		err = drainProgress(rc)
	}
	// The digest reference goes on every path: after a refusal nothing of
	// the pull keeps a name, after a success the local name holds it.
	defer func() {
		if _, err := api.ImageRemove(context.WithoutCancel(ctx), pinned, image.RemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			log.Printf("removing the reference %s: %v", pinned, err)
		}
	}()
	if err != nil {
		return "", fmt.Errorf("pulling %s: %w", pinned, err)
	}
	if err := checkPulled(ctx, api, pinned, images.ReleaseHash(rel)); err != nil {
		return "", err
	}
	if err := api.ImageTag(ctx, pinned, local); err != nil {
		return "", fmt.Errorf("pulled %s, but tagging it %s: %w", pinned, local, err)
	}
	return pinned, nil
}

// checkPulled accepts a pulled image only if the engine holds it under
// the pinned digest and it carries the recipe hash its tag promised.
func checkPulled(ctx context.Context, api client.ImageAPIClient, pinned, recipe string) error {
	img, err := api.ImageInspect(ctx, pinned)
	if err != nil {
		return fmt.Errorf("pulled %s, but the engine does not hold it: %w", pinned, err)
	}
	if !slices.Contains(img.RepoDigests, pinned) {
		return fmt.Errorf("pulled %s, but the engine holds it as %s", pinned, strings.Join(img.RepoDigests, ", "))
	}
	var got string
	if img.Config != nil {
		got = img.Config.Labels[images.LabelRecipe]
	}
	if got != recipe {
		return fmt.Errorf("pulled %s, but it is not the node image of this docker rke's recipes (label %s is %q, want %q): push it again from a machine with the same docker rke version", pinned, images.LabelRecipe, got, recipe)
	}
	return nil
}

// pinnedRef is ref's repository at digest d, without the tag: what a
// pull by digest names.
func pinnedRef(ref string, d digest.Digest) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	pinned, err := reference.WithDigest(reference.TrimNamed(named), d)
	if err != nil {
		return "", fmt.Errorf("%s at %s: %w", ref, d, err)
	}
	return reference.FamiliarString(pinned), nil
}

// drainProgress reads a push or pull progress stream to its end and
// returns the error it reports, if any.
func drainProgress(rc io.ReadCloser) error {
	defer rc.Close()
	return jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil)
}
