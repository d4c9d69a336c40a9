package dind

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DebugClient logs every call docker rke makes to an engine, with what it
// was about and how long it took (docker's -D): the docker context's engine
// ("engine") or a node's own (the node container's name). Exec commands
// are logged when they are created. Calls docker rke does not make go
// through unlogged.
func DebugClient(api client.APIClient, log Logger, engine string) client.APIClient {
	return &debugClient{APIClient: api, log: log, engine: engine}
}

type debugClient struct {
	client.APIClient
	log    Logger
	engine string
}

// call logs a call when it returns: defer d.call("ContainerStart", name)(&err).
func (d *debugClient) call(what string, args ...string) func(*error) {
	start := time.Now()
	return func(err *error) {
		took := time.Since(start).Round(time.Millisecond)
		subject := strings.Join(args, " ")
		if *err != nil {
			d.log.Printf("debug: %s: %s %s: %v (%s)", d.engine, what, subject, *err, took)
			return
		}
		d.log.Printf("debug: %s: %s %s (%s)", d.engine, what, subject, took)
	}
}

func (d *debugClient) ContainerStart(ctx context.Context, name string, o container.StartOptions) (err error) {
	defer d.call("ContainerStart", name)(&err)
	return d.APIClient.ContainerStart(ctx, name, o)
}

func (d *debugClient) ContainerCreate(ctx context.Context, cfg *container.Config, host *container.HostConfig, net *network.NetworkingConfig, p *ocispec.Platform, name string) (r container.CreateResponse, err error) {
	defer d.call("ContainerCreate", name, cfg.Image)(&err)
	return d.APIClient.ContainerCreate(ctx, cfg, host, net, p, name)
}

func (d *debugClient) ContainerStop(ctx context.Context, name string, o container.StopOptions) (err error) {
	defer d.call("ContainerStop", name)(&err)
	return d.APIClient.ContainerStop(ctx, name, o)
}

func (d *debugClient) ContainerRemove(ctx context.Context, name string, o container.RemoveOptions) (err error) {
	defer d.call("ContainerRemove", name)(&err)
	return d.APIClient.ContainerRemove(ctx, name, o)
}

func (d *debugClient) ContainerInspect(ctx context.Context, name string) (r container.InspectResponse, err error) {
	defer d.call("ContainerInspect", name)(&err)
	return d.APIClient.ContainerInspect(ctx, name)
}

func (d *debugClient) ContainerList(ctx context.Context, o container.ListOptions) (r []container.Summary, err error) {
	defer d.call("ContainerList")(&err)
	return d.APIClient.ContainerList(ctx, o)
}

func (d *debugClient) ContainerLogs(ctx context.Context, name string, o container.LogsOptions) (r io.ReadCloser, err error) {
	defer d.call("ContainerLogs", name)(&err)
	return d.APIClient.ContainerLogs(ctx, name, o)
}

func (d *debugClient) ContainerExecCreate(ctx context.Context, name string, o container.ExecOptions) (r container.ExecCreateResponse, err error) {
	defer d.call("exec in", name+":", strings.Join(o.Cmd, " "))(&err)
	return d.APIClient.ContainerExecCreate(ctx, name, o)
}

func (d *debugClient) ContainerExecAttach(ctx context.Context, id string, o container.ExecAttachOptions) (r types.HijackedResponse, err error) {
	defer d.call("ContainerExecAttach", shortID(id))(&err)
	return d.APIClient.ContainerExecAttach(ctx, id, o)
}

func (d *debugClient) ContainerExecInspect(ctx context.Context, id string) (r container.ExecInspect, err error) {
	defer d.call("ContainerExecInspect", shortID(id))(&err)
	return d.APIClient.ContainerExecInspect(ctx, id)
}

func (d *debugClient) ContainerAttach(ctx context.Context, name string, o container.AttachOptions) (r types.HijackedResponse, err error) {
	defer d.call("ContainerAttach", name)(&err)
	return d.APIClient.ContainerAttach(ctx, name, o)
}

func (d *debugClient) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	d.log.Printf("debug: %s: ContainerWait %s %s", d.engine, name, cond)
	return d.APIClient.ContainerWait(ctx, name, cond)
}

func (d *debugClient) CopyToContainer(ctx context.Context, name, path string, content io.Reader, o container.CopyToContainerOptions) (err error) {
	defer d.call("CopyToContainer", name, path)(&err)
	return d.APIClient.CopyToContainer(ctx, name, path, content, o)
}

func (d *debugClient) CopyFromContainer(ctx context.Context, name, path string) (r io.ReadCloser, s container.PathStat, err error) {
	defer d.call("CopyFromContainer", name, path)(&err)
	return d.APIClient.CopyFromContainer(ctx, name, path)
}

func (d *debugClient) ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (r image.InspectResponse, err error) {
	defer d.call("ImageInspect", ref)(&err)
	return d.APIClient.ImageInspect(ctx, ref, opts...)
}

func (d *debugClient) ImageList(ctx context.Context, o image.ListOptions) (r []image.Summary, err error) {
	defer d.call("ImageList")(&err)
	return d.APIClient.ImageList(ctx, o)
}

func (d *debugClient) ImageRemove(ctx context.Context, ref string, o image.RemoveOptions) (r []image.DeleteResponse, err error) {
	defer d.call("ImageRemove", ref)(&err)
	return d.APIClient.ImageRemove(ctx, ref, o)
}

func (d *debugClient) ImageTag(ctx context.Context, src, ref string) (err error) {
	defer d.call("ImageTag", src, ref)(&err)
	return d.APIClient.ImageTag(ctx, src, ref)
}

func (d *debugClient) ImageSave(ctx context.Context, refs []string, opts ...client.ImageSaveOption) (r io.ReadCloser, err error) {
	defer d.call("ImageSave", refs...)(&err)
	return d.APIClient.ImageSave(ctx, refs, opts...)
}

func (d *debugClient) ImageImport(ctx context.Context, src image.ImportSource, ref string, o image.ImportOptions) (r io.ReadCloser, err error) {
	defer d.call("ImageImport", ref)(&err)
	return d.APIClient.ImageImport(ctx, src, ref, o)
}

func (d *debugClient) ImageBuild(ctx context.Context, buildContext io.Reader, o build.ImageBuildOptions) (r build.ImageBuildResponse, err error) {
	defer d.call("ImageBuild", o.Tags...)(&err)
	return d.APIClient.ImageBuild(ctx, buildContext, o)
}

func (d *debugClient) NetworkCreate(ctx context.Context, name string, o network.CreateOptions) (r network.CreateResponse, err error) {
	defer d.call("NetworkCreate", name)(&err)
	return d.APIClient.NetworkCreate(ctx, name, o)
}

func (d *debugClient) NetworkInspect(ctx context.Context, name string, o network.InspectOptions) (r network.Inspect, err error) {
	defer d.call("NetworkInspect", name)(&err)
	return d.APIClient.NetworkInspect(ctx, name, o)
}

func (d *debugClient) NetworkRemove(ctx context.Context, name string) (err error) {
	defer d.call("NetworkRemove", name)(&err)
	return d.APIClient.NetworkRemove(ctx, name)
}

func (d *debugClient) NetworkList(ctx context.Context, o network.ListOptions) (r []network.Summary, err error) {
	defer d.call("NetworkList")(&err)
	return d.APIClient.NetworkList(ctx, o)
}

func (d *debugClient) VolumeCreate(ctx context.Context, o volume.CreateOptions) (r volume.Volume, err error) {
	defer d.call("VolumeCreate", o.Name)(&err)
	return d.APIClient.VolumeCreate(ctx, o)
}

func (d *debugClient) VolumeInspect(ctx context.Context, name string) (r volume.Volume, err error) {
	defer d.call("VolumeInspect", name)(&err)
	return d.APIClient.VolumeInspect(ctx, name)
}

func (d *debugClient) VolumeRemove(ctx context.Context, name string, force bool) (err error) {
	defer d.call("VolumeRemove", name)(&err)
	return d.APIClient.VolumeRemove(ctx, name, force)
}

func (d *debugClient) VolumeList(ctx context.Context, o volume.ListOptions) (r volume.ListResponse, err error) {
	defer d.call("VolumeList")(&err)
	return d.APIClient.VolumeList(ctx, o)
}

func (d *debugClient) Info(ctx context.Context) (r system.Info, err error) {
	defer d.call("Info")(&err)
	return d.APIClient.Info(ctx)
}

func (d *debugClient) Ping(ctx context.Context) (r types.Ping, err error) {
	defer d.call("Ping")(&err)
	return d.APIClient.Ping(ctx)
}

// Debug makes the Engine log every call to the engines of nodes to log
// (docker's -D); the engine's own client is wrapped by its maker
// (DebugClient).
func (e *Engine) Debug(log Logger) { e.debug = log }
