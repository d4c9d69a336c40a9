package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/deploy"
	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// checkHardening checks a cluster up made against what an attacker with
// one foothold would try: the admin kubeconfig's identity is revocable,
// a kubelet's certificate opens no door to etcd, a privileged pod needs a
// namespace that asks for it, and the admin's requests are in the audit
// log, without bodies. plan is the cluster's plan; worker one of its
// nodes without the etcd role.
func checkHardening(t *testing.T, plan runtime.Cluster, kubeconfig, worker string) {
	t.Helper()
	cs, _ := kubeClient(t, kubeconfig)
	checkAdminIdentity(t, cs, kubeconfig)
	checkEtcdTrustsItsOwnCA(t, plan, worker)
	checkPodSecurity(t, cs)
	checkAuditLog(t, plan.Name, cs)
}

// checkAdminIdentity: the kubeconfig is docker-rke:admins, not
// system:masters, for at most 90 days.
func checkAdminIdentity(t *testing.T, cs kubernetes.Interface, kubeconfig string) {
	t.Helper()
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctxT(t), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("who am I: %v", err)
	}
	groups := review.Status.UserInfo.Groups
	if !slices.Contains(groups, pki.AdminsGroup) || slices.Contains(groups, "system:masters") {
		t.Errorf("the admin kubeconfig's groups are %v, want %s and not system:masters", groups, pki.AdminsGroup)
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, user := range cfg.AuthInfos {
		cert, err := pki.Cert{CertPEM: user.ClientCertificateData}.Parsed()
		if err != nil {
			t.Fatalf("kubeconfig user %s: %v", name, err)
		}
		if left := time.Until(cert.NotAfter); left > pki.AdminValidity {
			t.Errorf("kubeconfig user %s: its certificate lasts another %s, want at most %s", name, left.Round(time.Hour), pki.AdminValidity)
		}
	}
}

// checkEtcdTrustsItsOwnCA: etcd answers the API server's client
// certificate and refuses a worker's kubelet certificate and up's own
// system:masters one, all three signed by CAs of the cluster.
func checkEtcdTrustsItsOwnCA(t *testing.T, plan runtime.Cluster, worker string) {
	t.Helper()
	st, err := deploy.LoadState(ctxT(t), dind.NewEngine(engine(t), testLog{t}), plan.Name, images.NodeImage(release(t)))
	if err != nil {
		t.Fatal(err)
	}
	b := st.Certificates
	var member runtime.Node
	for _, n := range plan.Nodes {
		if slices.ContainsFunc(n.Components, func(c runtime.Component) bool { return c.Name == "etcd" }) {
			member = n
			break
		}
	}
	addr := inspect(t, member.ContainerName).NetworkSettings.Networks[plan.Network].IPAddress
	url := fmt.Sprintf("https://%s:%d/version", addr, runtime.EtcdClientPort)
	get := func(certName string) (string, error) {
		ca, err := b[pki.EtcdCA].Parsed()
		if err != nil {
			return "", err
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		pair, err := tls.X509KeyPair(b[certName].CertPEM, b[certName].KeyPEM)
		if err != nil {
			return "", err
		}
		// Present the certificate whatever CAs etcd says it accepts (Go
		// would otherwise send none), so that etcd itself must refuse it.
		present := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: member.Name, GetClientCertificate: present}}}
		resp, err := client.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s: %s", resp.Status, body)
		}
		return string(body), nil
	}
	if body, err := get(runtime.CertAPIServerEtcdClient); err != nil || !strings.Contains(body, "etcdserver") {
		t.Fatalf("etcd refused the API server's client certificate (the check proves nothing): %v %s", err, body)
	}
	for _, name := range []string{runtime.CertNode(worker), pki.SuperAdmin} {
		if body, err := get(name); err == nil {
			t.Errorf("etcd answered a client with certificate %s: %s", name, body)
		} else {
			t.Logf("etcd refused %s: %v", name, err)
		}
	}
}

// checkPodSecurity: baseline refuses a privileged pod in default; a
// namespace labelled privileged admits it.
func checkPodSecurity(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := ctxT(t)
	privileged := true
	pod := func(ns string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "privileged", Namespace: ns},
			Spec: corev1.PodSpec{
				// Never scheduled: admission is what is checked.
				NodeSelector: map[string]string{"e2e/no-such-node": "true"},
				Containers: []corev1.Container{{
					Name: "c", Image: "docker-rke/pause:none",
					SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
				}},
			},
		}
	}
	_, err := cs.CoreV1().Pods("default").Create(ctx, pod("default"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "baseline`) {
		t.Errorf("a privileged pod in default: %v, want refused by Pod Security baseline", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-privileged", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(ns.Name).Create(ctx, pod(ns.Name), metav1.CreateOptions{}); err != nil {
		t.Errorf("a privileged pod in a namespace labelled privileged: %v", err)
	}
}

// checkAuditLog: the audit log, read with docker rke logs, has the admin's
// request with who made it, and no Secret's data.
func checkAuditLog(t *testing.T, cluster string, cs kubernetes.Interface) {
	t.Helper()
	ctx := ctxT(t)
	const secretValue = "e2e-audit-must-not-see-this"
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "e2e-audit", Namespace: "default"}, StringData: map[string]string{"password": secretValue}}
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The API server writes its events in batches; poll until ours is in.
	var log string
	err := wait.PollUntilContextTimeout(ctx, time.Second, 30*time.Second, true, func(context.Context) (bool, error) {
		r := docker(t, "rke", "logs", cluster, "audit")
		if r.code != 0 {
			return false, fmt.Errorf("docker rke logs %s audit: exit %d: %s", cluster, r.code, r.stderr)
		}
		log = r.stdout
		return auditHas(log, "create", "secrets", "e2e-audit"), nil
	})
	if err != nil {
		t.Errorf("%s: the audit log (%d bytes) has no create of Secret e2e-audit by %s (group %s): %v", cluster, len(log), runtime.CertAdmin, pki.AdminsGroup, err)
	}
	if n := strings.Count(log, `"requestObject"`) + strings.Count(log, `"responseObject"`); n > 0 {
		t.Errorf("%s: %d audit events hold a body", cluster, n)
	}
	if strings.Contains(log, secretValue) || strings.Contains(log, "ZTJlLWF1ZGl0LW11c3Qtbm90LXNlZS10aGlz") {
		t.Errorf("%s: the audit log holds a Secret's data", cluster)
	}
}

// auditHas says whether an audit log (one JSON event per line, every
// line prefixed with its node when there are several) records the admin
// doing verb to a resource of that name.
func auditHas(log, verb, resource, name string) bool {
	for _, line := range strings.Split(log, "\n") {
		if i := strings.Index(line, "{"); i >= 0 {
			line = line[i:]
		}
		var ev struct {
			Verb string
			User struct {
				Username string
				Groups   []string
			}
			ObjectRef struct{ Resource, Name string }
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		if ev.Verb == verb && ev.ObjectRef.Resource == resource && ev.ObjectRef.Name == name &&
			ev.User.Username == runtime.CertAdmin && slices.Contains(ev.User.Groups, pki.AdminsGroup) {
			return true
		}
	}
	return false
}
