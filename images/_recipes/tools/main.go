// Command rke-tools is docker rke's own small program in every node, one
// static binary with a few jobs:
//
//	rke-tools proxy --listen 127.0.0.1:6443 cp1:6443 cp2:6443
//	    the node-local API server proxy of nodes without the controlplane
//	    role (RKE's nginx-proxy idea): kubelet and kube-proxy dial
//	    127.0.0.1:6443 and reach whichever API server answers.
//	rke-tools serve --listen :8080       answers HTTP with the pod's hostname
//	rke-tools get --timeout 60s URL      prints a URL's body, retrying
//	rke-tools lookup --timeout 60s NAME  resolves a name with the pod's resolver
//	rke-tools dial --timeout 5s tcp|udp HOST:PORT
//	    says what became of one connection: connected, answered, refused,
//	    unreachable or no answer (where a cluster's traffic must not go)
//	rke-tools cat FILE...                prints files (what a volume holds)
//	rke-tools etcd-snapshots --interval 12h --retention 6 --dir DIR ETCDCTL [FLAGS...]
//	    an etcd node's recurring snapshots (RKE's etcd-rolling-snapshots)
//
// Pods run the last three from the pause image with this binary bound in:
// readiness checks and tests need no image from a registry.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// version is set at link time.
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rke-tools proxy|serve|get|lookup|dial|cat|etcd-snapshots|version ...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "version", "--version", "-v":
		fmt.Println("rke-tools", version)
	case "proxy":
		err = proxyCmd(ctx, args)
	case "serve":
		err = serveCmd(ctx, args)
	case "get":
		err = getCmd(ctx, args)
	case "lookup":
		err = lookupCmd(ctx, args)
	case "dial":
		err = dialCmd(ctx, args)
	case "cat":
		err = catCmd(args)
	case "etcd-snapshots":
		err = snapshotsCmd(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rke-tools:", err)
		os.Exit(1)
	}
}

// proxy forwards TCP connections to the first backend that accepts,
// starting with the next one each time, so that load spreads and a dead
// API server costs one failed dial. Names are resolved on every dial: a
// stopped node's name stops resolving at once on a docker network.
type proxy struct {
	backends []string
	next     atomic.Uint32
	timeout  time.Duration
	mu       sync.Mutex
	down     map[string]time.Time // backend -> when to try it first again
}

func proxyCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:6443", "address to listen on")
	timeout := fs.Duration("dial-timeout", 2*time.Second, "time to connect to one backend")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("proxy: no backends")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	p := &proxy{backends: fs.Args(), timeout: *timeout, down: map[string]time.Time{}}
	fmt.Printf("rke-tools proxy: %s -> %v\n", *listen, p.backends)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go p.serve(ctx, c)
	}
}

// order lists the backends to try: round robin, known-down ones last.
func (p *proxy) order() []string {
	start := int(p.next.Add(1))
	now := time.Now()
	var up, down []string
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.backends {
		b := p.backends[(start+i)%len(p.backends)]
		if now.Before(p.down[b]) {
			down = append(down, b)
		} else {
			up = append(up, b)
		}
	}
	return append(up, down...)
}

func (p *proxy) mark(backend string, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if failed {
		p.down[backend] = time.Now().Add(10 * time.Second)
	} else {
		delete(p.down, backend)
	}
}

func (p *proxy) serve(ctx context.Context, client net.Conn) {
	defer client.Close()
	var errs []error
	for _, b := range p.order() {
		dctx, cancel := context.WithTimeout(ctx, p.timeout)
		server, err := (&net.Dialer{}).DialContext(dctx, "tcp", b)
		cancel()
		if err != nil {
			p.mark(b, true)
			errs = append(errs, err)
			continue
		}
		p.mark(b, false)
		defer server.Close()
		splice(client, server)
		return
	}
	fmt.Fprintf(os.Stderr, "rke-tools proxy: no backend answered: %v\n", errors.Join(errs...))
}

// splice copies both ways until both directions are done.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go half(a, b)
	go half(b, a)
	wg.Wait()
}

func serveCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", ":8080", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _ := os.Hostname()
	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, host)
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// retry runs fn, each try bounded by try, until it succeeds or the
// timeout passes, and returns the last error.
func retry(ctx context.Context, timeout, try time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		tctx, tcancel := context.WithTimeout(ctx, try)
		err := fn(tctx)
		tcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

func getCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	timeout := fs.Duration("timeout", time.Minute, "how long to retry")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("get: one URL")
	}
	url := fs.Arg(0)
	return retry(ctx, *timeout, 5*time.Second, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			err := fmt.Errorf("%s: %s", url, resp.Status)
			fmt.Fprintln(os.Stderr, err)
			return err
		}
		os.Stdout.Write(body)
		return nil
	})
}

func lookupCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
	timeout := fs.Duration("timeout", time.Minute, "how long to retry")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("lookup: one name")
	}
	name := fs.Arg(0)
	// The pure Go resolver reads the pod's resolv.conf (search domains,
	// ndots) as any libc resolver would.
	r := &net.Resolver{PreferGo: true}
	// A query lost while the service has no endpoint yet would wait the
	// resolver's 5 s: ask again after a second instead.
	return retry(ctx, *timeout, time.Second, func(ctx context.Context) error {
		addrs, err := r.LookupHost(ctx, name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return err
		}
		fmt.Printf("%s: %v\n", name, addrs)
		return nil
	})
}

// dialCmd tries one connection and prints its fate, one word: connected
// (TCP) or answered (UDP: a datagram came back), refused (a reset, or
// ICMP port unreachable), unreachable (ICMP host or network unreachable,
// or no route), or "no answer" when the timeout passed in silence.
func dialCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 || (fs.Arg(0) != "tcp" && fs.Arg(0) != "udp") {
		return errors.New("dial: tcp|udp HOST:PORT")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	fmt.Println(dialFate(ctx, fs.Arg(0), fs.Arg(1)))
	return nil
}

func dialFate(ctx context.Context, network, addr string) string {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil && network == "udp" {
		// A connected UDP socket learns of an ICMP error on its next
		// read, after a datagram went out.
		defer conn.Close()
		deadline, _ := ctx.Deadline()
		_ = conn.SetDeadline(deadline)
		if _, err = conn.Write([]byte("docker-rke dial\n")); err == nil {
			_, err = conn.Read(make([]byte, 512))
		}
		if err == nil {
			return "answered"
		}
	} else if err == nil {
		conn.Close()
		return "connected"
	}
	switch {
	// EPERM: the node's own firewall refused a datagram it sent.
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPERM):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "no answer"
	}
	return "error: " + err.Error()
}

// catCmd prints files, for pods that check what a volume holds from the
// pause image, which has no shell.
func catCmd(files []string) error {
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		_, err = io.Copy(os.Stdout, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
