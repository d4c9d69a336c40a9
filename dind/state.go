package dind

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker-rke/docker-rke/internal/tarball"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
)

// A cluster's state (its PKI and settings, like RKE's cluster.rkestate)
// lives in a docker volume labelled with the cluster, on the same engine
// as its nodes: it travels with the docker context (remote engines,
// several users of one engine), rm removes it with everything else by its
// label, and it needs no file on the client machine.
const (
	stateDir  = "/state"
	stateFile = "state.json"
)

// StateVolume is the name of a cluster's state volume.
func StateVolume(cluster string) string { return "rke-" + cluster + "-state" }

// ErrNoState is returned by LoadState for a cluster that has none yet.
var ErrNoState = errors.New("no state")

// SaveState writes a cluster's state into its volume, mode 0600 (it holds
// private keys). image is any image on the engine (the node image): the
// volume is written through a container that is created, never started.
func (e *Engine) SaveState(ctx context.Context, cluster, image string, data []byte) error {
	if err := e.ensureVolume(ctx, cluster, volume.CreateOptions{
		Name:   StateVolume(cluster),
		Labels: map[string]string{LabelCluster: cluster},
	}); err != nil {
		return fmt.Errorf("cluster %s: state: %w", cluster, err)
	}
	archive, err := tarball.Bytes(tarball.File(stateFile, 0o600, data))
	if err != nil {
		return err
	}
	return e.withStateContainer(ctx, cluster, image, func(id string) error {
		return e.api.CopyToContainer(ctx, id, stateDir, bytes.NewReader(archive), container.CopyToContainerOptions{})
	})
}

// LoadState reads a cluster's state, or returns ErrNoState.
func (e *Engine) LoadState(ctx context.Context, cluster, image string) ([]byte, error) {
	if _, err := e.api.VolumeInspect(ctx, StateVolume(cluster)); cerrdefs.IsNotFound(err) {
		return nil, ErrNoState
	} else if err != nil {
		return nil, fmt.Errorf("cluster %s: state volume: %w", cluster, err)
	}
	var data []byte
	err := e.withStateContainer(ctx, cluster, image, func(id string) error {
		rc, _, err := e.api.CopyFromContainer(ctx, id, stateDir+"/"+stateFile)
		if cerrdefs.IsNotFound(err) {
			return ErrNoState
		}
		if err != nil {
			return err
		}
		defer rc.Close()
		tr := tar.NewReader(rc)
		if _, err := tr.Next(); err != nil {
			return err
		}
		data, err = io.ReadAll(io.LimitReader(tr, 16<<20))
		return err
	})
	return data, err
}

// SaveStateFile writes a file into a cluster's state volume at rel (a
// path under the volume, such as snapshots/x.db), mode 0600, replacing
// one of that name. The volume must exist (SaveState made it).
func (e *Engine) SaveStateFile(ctx context.Context, cluster, image, rel string, data []byte) error {
	archive, err := tarball.Bytes(tarball.WithParents([]tarball.Entry{tarball.File(rel, 0o600, data)})...)
	if err != nil {
		return err
	}
	return e.withStateContainer(ctx, cluster, image, func(id string) error {
		return e.api.CopyToContainer(ctx, id, stateDir, bytes.NewReader(archive), container.CopyToContainerOptions{})
	})
}

// ReadStateFile reads a file of a cluster's state volume (rel as for
// SaveStateFile), refusing one larger than max bytes.
func (e *Engine) ReadStateFile(ctx context.Context, cluster, image, rel string, max int64) ([]byte, error) {
	var data []byte
	err := e.withStateContainer(ctx, cluster, image, func(id string) (err error) {
		data, err = e.copyFileFrom(ctx, id, stateDir+"/"+rel, max)
		return err
	})
	return data, err
}

// copyFileFrom reads one regular file of a container through the
// engine's archive API, refusing one larger than max bytes.
func (e *Engine) copyFileFrom(ctx context.Context, id, path string, max int64) ([]byte, error) {
	rc, _, err := e.api.CopyFromContainer(ctx, id, path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("reading %s: not a regular file", path)
	}
	if h.Size > max {
		return nil, fmt.Errorf("reading %s: %d bytes, more than the %d allowed", path, h.Size, max)
	}
	return io.ReadAll(io.LimitReader(tr, max))
}

func (e *Engine) withStateContainer(ctx context.Context, cluster, image string, fn func(id string) error) error {
	created, err := e.api.ContainerCreate(ctx, &container.Config{
		Image:      image,
		Entrypoint: []string{"/bin/true"},
		Labels:     map[string]string{LabelCluster: cluster, LabelProbe: "state"},
	}, &container.HostConfig{
		NetworkMode: "none",
		Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: StateVolume(cluster), Target: stateDir}},
	}, nil, nil, fmt.Sprintf("rke-state-%s-%d-%d", cluster, os.Getpid(), time.Now().UnixNano()))
	if err != nil {
		return fmt.Errorf("cluster %s: state: %w", cluster, err)
	}
	defer func() { _ = e.removeContainer(context.WithoutCancel(ctx), created.ID) }()
	if err := fn(created.ID); err != nil {
		if errors.Is(err, ErrNoState) {
			return err
		}
		return fmt.Errorf("cluster %s: state: %w", cluster, err)
	}
	return nil
}
