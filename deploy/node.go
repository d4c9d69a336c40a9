package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// Node is all deploy needs of a running node (dind.Node is it, over the
// outer engine's exec API; the tests have a fake). It never sees a docker
// client.
type Node interface {
	// Exec runs a command in the node, its standard input read from stdin
	// (nil: none); a non-zero exit is an error carrying the output.
	Exec(ctx context.Context, cmd []string, stdin io.Reader) (string, error)
	// Converge brings one of the node's components to its plan.
	Converge(ctx context.Context, c runtime.Component, filesHash string) (dind.Action, error)
	// Logs are the last lines a component printed, or why there are none.
	Logs(ctx context.Context, component string, lines int) string
	// Dial connects to an address in the node's network namespace:
	// components listen on its loopback.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Reached returns when the node's boot reached a milestone.
	Reached(ctx context.Context, m dind.Milestone) error
	// ReadFile returns a regular file of the node, of at most max bytes.
	ReadFile(ctx context.Context, path string, max int64) ([]byte, error)
}

// healthClient asks a node's components for their health as the plan
// says (runtime.Health). Connections are kept between polls: each new
// one is an exec in the node.
func healthClient(n Node, h runtime.Health, b pki.Bundle) (*http.Client, error) {
	tr := &http.Transport{DialContext: n.Dial, MaxIdleConnsPerHost: 1, IdleConnTimeout: 10 * time.Second}
	if strings.HasPrefix(h.URL, "https://") {
		if h.ClusterCA {
			cfg, err := adminTLS(b)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = cfg
		} else {
			// A serving certificate of the component's own: only its
			// health is read.
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
	}
	return &http.Client{Transport: tr}, nil
}

// waitHealthy polls a component's health until it answers as the plan
// says, within timeout, or fails with the component's last log lines.
func waitHealthy(ctx context.Context, r *run, name string, n runtime.Node, comp runtime.Component) error {
	hc, err := healthClient(r.nodes[n.Name], comp.Health, r.bundle)
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	var last string
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, r.opts.Timeout, true, func(ctx context.Context) (bool, error) {
		var ok bool
		ok, last = get(ctx, hc, comp.Health.URL, comp.Health.Body)
		return ok, nil
	})
	if err != nil {
		return fmt.Errorf("cluster %s node %s: %s not healthy at %s within %s (last answer: %s); its last log lines:\n%s", r.c.Name, n.Name, name, comp.Health.URL, r.opts.Timeout, last, r.nodes[n.Name].Logs(ctx, name, 15))
	}
	r.opts.Log.Printf("[%s] node %s: %s healthy", r.c.Name, n.Name, name)
	return nil
}

// get asks a health endpoint once, and says whether it answered 200 with
// want in its body, and what it answered.
func get(ctx context.Context, hc *http.Client, url, want string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(want)), fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
}

// adminTLS trusts the cluster CA and presents up's own identity
// (system:masters), which no file outside the cluster's state holds.
func adminTLS(b pki.Bundle) (*tls.Config, error) {
	ca, err := b[pki.CA].Parsed()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	admin := upIdentity(b)
	pair, err := tls.X509KeyPair(admin.CertPEM, admin.KeyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}, nil
}

// upIdentity is the certificate up and start talk to the API server
// with: its own system:masters one, or, in the state of a cluster made
// before it had one (which start reads as it is), the admin's, which was
// system:masters then.
func upIdentity(b pki.Bundle) pki.Cert {
	if c, ok := b[pki.SuperAdmin]; ok {
		return c
	}
	return b[pki.Admin]
}

// kubeClients reach the API server of a controlplane node through the node
// (the node-local API server, over the outer engine), which works wherever
// the engine is, with up's own identity: the admin kubeconfig's rights
// come from a binding up itself makes.
func kubeClients(n Node, b pki.Bundle) (*kubernetes.Clientset, *dynamic.DynamicClient, error) {
	cfg := &rest.Config{
		Host: runtime.LocalAPIServer,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   b[pki.CA].CertPEM,
			CertData: upIdentity(b).CertPEM,
			KeyData:  upIdentity(b).KeyPEM,
		},
		Dial:      n.Dial,
		QPS:       50,
		Burst:     100,
		Timeout:   20 * time.Second,
		UserAgent: "docker-rke",
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	return cs, dyn, err
}
