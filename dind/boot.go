package dind

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// BootOnce boots a throwaway node from image, as nodes boot, waits until
// it has loaded the images baked into it, stops it, and calls fn with the
// stopped container's name: its /var still holds what the node's engine
// and containerd stored, for the archive API to read. The container goes
// afterwards with its /var, whatever happened.
func (e *Engine) BootOnce(ctx context.Context, image string, mode Mode, fn func(container string) error) error {
	name := fmt.Sprintf("rke-boot-%d-%d", os.Getpid(), time.Now().UnixNano())
	host := bootHost(mode)
	// A throwaway /var that goes with the container.
	host.Mounts = []mount.Mount{{Type: mount.TypeVolume, Target: "/var", VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}
	// No network: nothing is fetched, and the entrypoint leaves DNS alone
	// without a default route.
	host.NetworkMode = "none"
	cfg := &container.Config{Image: image, Labels: map[string]string{LabelProbe: "boot"}}
	if _, err := e.api.ContainerCreate(ctx, cfg, host, nil, nil, name); err != nil {
		return fmt.Errorf("booting %s: create: %w", image, err)
	}
	defer func() { _ = e.removeContainer(context.WithoutCancel(ctx), name) }()
	if err := e.api.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return fmt.Errorf("booting %s: start: %w", image, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := e.waitLogLine(waitCtx, name, string(ImagesLoaded)); err != nil {
		return fmt.Errorf("booting %s (container %s): %w", image, name, err)
	}
	// The entrypoint stops both daemons on SIGTERM, so their stores are
	// closed cleanly before they are read.
	timeout := 30
	if err := e.api.ContainerStop(ctx, name, container.StopOptions{Timeout: &timeout}); err != nil {
		return fmt.Errorf("booting %s (container %s): stop: %w", image, name, err)
	}
	return fn(name)
}
