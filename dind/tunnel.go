package dind

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// DialFunc opens a connection to a node's engine.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialerFactory returns the dialer for a node's engine, after RKE's
// DockerDialerFactory. Unlike RKE's DIND dialer, which dialled plaintext
// TCP 2375 on the node's address, this one streams through the outer
// engine's exec API to the node's unix socket (socat inside the node):
// the node's engine never listens on TCP, so nothing on
// the host or in another cluster can reach it without the credentials of
// the docker context, and it works where container addresses cannot be
// reached at all (Docker Desktop on macOS, remote contexts over SSH or TLS).
type DialerFactory func(node string) (DialFunc, error)

// ExecDialerFactory tunnels through api's exec endpoint into the node
// container named node.
func ExecDialerFactory(api client.ContainerAPIClient) DialerFactory {
	return func(node string) (DialFunc, error) {
		if node == "" {
			return nil, fmt.Errorf("tunnel: no node container named")
		}
		return func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialExec(ctx, api, node)
		}, nil
	}
}

// nodeClients are an Engine's docker clients of node engines, one per node
// container, made on first use. Every new tunnel connection is an exec in
// the node (the outer engine, containerd, runc and socat: about 0.1 s of
// CPU while the machine is busy starting clusters), so every step that
// talks to a node's engine shares its client and its kept connections.
type nodeClients struct {
	mu sync.Mutex
	m  map[string]*client.Client
}

// NodeClient returns the docker client of the engine inside a node
// container. It stays open until Close.
func (e *Engine) NodeClient(node string) (client.APIClient, error) {
	e.clients.mu.Lock()
	defer e.clients.mu.Unlock()
	c, ok := e.clients.m[node]
	if !ok {
		var err error
		if c, err = NodeClient(e.dialer, node); err != nil {
			return nil, err
		}
		if e.clients.m == nil {
			e.clients.m = map[string]*client.Client{}
		}
		e.clients.m[node] = c
	}
	if e.debug != nil {
		return DebugClient(c, e.debug, node), nil
	}
	return c, nil
}

// forget closes and drops a node's client, for a node container that is
// removed: a new one of the same name is another container.
func (e *Engine) forget(node string) {
	e.clients.mu.Lock()
	defer e.clients.mu.Unlock()
	if c, ok := e.clients.m[node]; ok {
		_ = c.Close()
		delete(e.clients.m, node)
	}
}

// Close closes the clients of node engines the Engine made.
func (e *Engine) Close() error {
	e.clients.mu.Lock()
	defer e.clients.mu.Unlock()
	for node, c := range e.clients.m {
		_ = c.Close()
		delete(e.clients.m, node)
	}
	return nil
}

// NodeClient returns a new docker client for the engine inside a node.
// Connections are kept for reuse: several steps talk to a node at once.
func NodeClient(factory DialerFactory, node string) (*client.Client, error) {
	dial, err := factory(node)
	if err != nil {
		return nil, err
	}
	// The host is only used to build request URLs; every connection goes
	// through dial.
	return client.NewClientWithOpts(
		client.WithHost("unix:///var/run/docker.sock"),
		client.WithAPIVersionNegotiation(),
		client.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: dial, DisableCompression: true, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second}}),
	)
}

// dialExec connects to the node's engine socket with socat, which relays
// like `docker system dial-stdio` at a fraction of its start-up CPU (the
// docker CLI cost 0.15 s of CPU per connection, and up opens dozens while
// every node starts). -t: after the client half-closes (a hijacked
// attach), socat keeps relaying the engine's answer until the engine
// closes, as dial-stdio does, instead of quitting after 0.5 s.
func dialExec(ctx context.Context, api client.ContainerAPIClient, node string) (net.Conn, error) {
	return dialExecCmd(ctx, api, node, []string{"socat", "-t", "86400", "-", "UNIX-CONNECT:/var/run/docker.sock"})
}

// dialExecCmd runs cmd in the node with its stdin and stdout as a
// connection.
func dialExecCmd(ctx context.Context, api client.ContainerAPIClient, node string, cmd []string) (net.Conn, error) {
	exec, err := api.ContainerExecCreate(ctx, node, container.ExecOptions{
		Cmd:          cmd,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("tunnel to node container %s: %w", node, err)
	}
	resp, err := api.ContainerExecAttach(ctx, exec.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("tunnel to node container %s: attach: %w", node, err)
	}
	c := &execConn{node: node, resp: resp}
	pr, pw := io.Pipe()
	c.out = pr
	// Without a TTY the exec stream multiplexes stdout and stderr; only
	// stdout carries the engine's bytes.
	go func() {
		_, err := stdcopy.StdCopy(pw, &c.stderr, resp.Reader)
		if err == nil {
			err = io.EOF
		}
		pw.CloseWithError(err)
	}()
	return c, nil
}

// execConn is a net.Conn over an exec session that relays its stdin and
// stdout to a socket in the node.
type execConn struct {
	node   string
	resp   types.HijackedResponse
	out    *io.PipeReader
	stderr syncBuffer
	once   sync.Once
}

func (c *execConn) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *execConn) Write(p []byte) (int, error) { return c.resp.Conn.Write(p) }

func (c *execConn) Close() error {
	c.once.Do(func() {
		c.resp.Close()
		c.out.Close()
	})
	return nil
}

// CloseWrite ends the request stream; the HTTP client uses it for
// hijacked (attach, exec) requests through the tunnel.
func (c *execConn) CloseWrite() error { return c.resp.CloseWrite() }

func (c *execConn) LocalAddr() net.Addr  { return tunnelAddr("docker-rke") }
func (c *execConn) RemoteAddr() net.Addr { return tunnelAddr(c.node) }

func (c *execConn) SetDeadline(t time.Time) error      { return c.resp.Conn.SetDeadline(t) }
func (c *execConn) SetReadDeadline(t time.Time) error  { return c.resp.Conn.SetReadDeadline(t) }
func (c *execConn) SetWriteDeadline(t time.Time) error { return c.resp.Conn.SetWriteDeadline(t) }

type tunnelAddr string

func (a tunnelAddr) Network() string { return "docker-exec" }
func (a tunnelAddr) String() string  { return string(a) }

// syncBuffer keeps what the relay prints on stderr, for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 4096 {
		b.buf.Write(p)
	}
	return len(p), nil
}

// demux strips the stream headers of a non-TTY log or exec stream.
func demux(data []byte) string {
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, bytes.NewReader(data)); err != nil {
		return string(data)
	}
	return out.String()
}
