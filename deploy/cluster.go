package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/model"
	"github.com/docker-rke/docker-rke/pki"
	"github.com/docker-rke/docker-rke/runtime"
)

// fieldManager owns what up applies.
const fieldManager = "docker-rke"

// nodeObject is the Node docker rke creates for a planned node before its
// kubelet starts: roles and the user's labels, taints, and its pod block.
func nodeObject(n runtime.Node, podCIDR string) *corev1.Node {
	labels := maps.Clone(n.Labels)
	labels["kubernetes.io/hostname"] = n.Name
	labels["kubernetes.io/os"] = "linux"
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels},
		Spec:       corev1.NodeSpec{PodCIDR: podCIDR, PodCIDRs: []string{podCIDR}, Taints: nodeTaints(n.Taints)},
	}
}

// nodeTaints are the plan's taints as Kubernetes has them.
func nodeTaints(in []model.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range in {
		out = append(out, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	return out
}

// ensureNodes creates every planned Node that does not exist, brings the
// labels and taints of those that do to the plan (role labels the plan no
// longer has are removed; taints others added are left), and deletes the
// Nodes of nodes that left the definition.
func ensureNodes(ctx context.Context, cs kubernetes.Interface, c runtime.Cluster, podCIDRs map[string]string) error {
	planned := map[string]bool{}
	for _, n := range c.Nodes {
		planned[n.Name] = true
		want := nodeObject(n, podCIDRs[n.Name])
		have, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if _, err := cs.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
				return fmt.Errorf("cluster %s node %s: creating its Node: %w", c.Name, n.Name, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("cluster %s node %s: %w", c.Name, n.Name, err)
		}
		if have.Spec.PodCIDR != "" && have.Spec.PodCIDR != podCIDRs[n.Name] {
			return fmt.Errorf("cluster %s node %s: its Node has pod CIDR %s, the cluster's state says %s; remove the Node (kubectl delete node %s) and run up again", c.Name, n.Name, have.Spec.PodCIDR, podCIDRs[n.Name], n.Name)
		}
		if merged, changed := mergeNode(have, want); changed {
			if _, err := cs.CoreV1().Nodes().Update(ctx, merged, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
				return fmt.Errorf("cluster %s node %s: updating its labels and taints: %w", c.Name, n.Name, err)
			}
		}
	}
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("cluster %s: listing Nodes: %w", c.Name, err)
	}
	for _, n := range list.Items {
		if !planned[n.Name] {
			if err := cs.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("cluster %s: deleting the Node of the removed node %s: %w", c.Name, n.Name, err)
			}
		}
	}
	return nil
}

// mergeNode applies the planned labels and taints to an existing Node.
func mergeNode(have, want *corev1.Node) (*corev1.Node, bool) {
	out := have.DeepCopy()
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	for k := range out.Labels {
		if strings.HasPrefix(k, "node-role.kubernetes.io/") && want.Labels[k] == "" {
			delete(out.Labels, k)
		}
	}
	maps.Copy(out.Labels, want.Labels)
	for _, t := range want.Spec.Taints {
		if !slices.ContainsFunc(out.Spec.Taints, func(h corev1.Taint) bool { return h.MatchTaint(&t) && h.Value == t.Value }) {
			out.Spec.Taints = slices.DeleteFunc(out.Spec.Taints, func(h corev1.Taint) bool { return h.MatchTaint(&t) })
			out.Spec.Taints = append(out.Spec.Taints, t)
		}
	}
	if out.Spec.PodCIDR == "" {
		out.Spec.PodCIDR, out.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
	}
	changed := !maps.Equal(out.Labels, have.Labels) || len(out.Spec.Taints) != len(have.Spec.Taints) || out.Spec.PodCIDR != have.Spec.PodCIDR
	return out, changed
}

// applied is one object up applies, with its resource.
type applied struct {
	gvr schema.GroupVersionResource
	obj kruntime.Object
}

// applyAddons applies, server-side, what a cluster needs beyond its
// components: the API server's access to kubelets (logs, exec) and
// CoreDNS.
func applyAddons(ctx context.Context, dyn dynamic.Interface, c runtime.Cluster) error {
	var errs []error
	for _, a := range addons(c) {
		m, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(a.obj)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: m}
		gvk := a.obj.GetObjectKind().GroupVersionKind()
		u.SetAPIVersion(gvk.GroupVersion().String())
		u.SetKind(gvk.Kind)
		var ri dynamic.ResourceInterface = dyn.Resource(a.gvr)
		if ns := u.GetNamespace(); ns != "" {
			ri = dyn.Resource(a.gvr).Namespace(ns)
		}
		if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: applying %s %s: %w", c.Name, gvk.Kind, u.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// corefile serves the cluster domain from the API and forwards the rest
// to the node's resolver, which is the outer engine's DNS on the node's
// gateway, never a loopback address (that would loop back into CoreDNS).
func corefile(c runtime.Cluster) string {
	return render(configTemplates, "Corefile.tmpl", c)
}

func addons(c runtime.Cluster) []applied {
	gvrServiceAccount := schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	gvrConfigMap := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrService := schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrDeployment := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrClusterRole := schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	gvrClusterRoleBinding := schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "docker-rke"}}
	}
	typeMeta := func(apiVersion, kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
	}
	dnsLabels := map[string]string{"k8s-app": "kube-dns"}
	port := func(name string, p int32, proto corev1.Protocol) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: p, Protocol: proto}
	}
	dns := c.DNS
	ctr := corev1.Container{
		Name:            "coredns",
		Image:           dns.Image,
		ImagePullPolicy: pullPolicy(c, dns.Image),
		Command:         dns.Command,
		Args:            []string{"-conf", "/etc/coredns/Corefile"},
		Ports:           []corev1.ContainerPort{port("dns", 53, corev1.ProtocolUDP), port("dns-tcp", 53, corev1.ProtocolTCP), port("metrics", 9153, corev1.ProtocolTCP)},
		VolumeMounts:    []corev1.VolumeMount{{Name: "config", MountPath: "/etc/coredns", ReadOnly: true}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("170Mi")},
		},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8181)}}, PeriodSeconds: 1},
		LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8080)}}, InitialDelaySeconds: 60, TimeoutSeconds: 5, FailureThreshold: 5},
	}
	volumes := []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "coredns"}}}}}
	if dns.HostBin != "" {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "bin", MountPath: dns.HostBin, ReadOnly: true})
		volumes = append(volumes, hostBinVolume(dns.HostBin))
	}
	replicas := dns.Replicas
	return []applied{
		{gvrClusterRoleBinding, &rbacv1.ClusterRoleBinding{
			// The API server is a client of kubelets (logs, exec, port-forward).
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: meta("docker-rke:kube-apiserver-kubelet-api-admin", ""),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:kubelet-api-admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: runtime.CertAPIServer}},
		}},
		{gvrClusterRoleBinding, &rbacv1.ClusterRoleBinding{
			// The admin kubeconfig's identity: deleting this binding
			// revokes every admin certificate at once.
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: meta(pki.AdminsGroup, ""),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: pki.AdminsGroup}},
		}},
		{gvrServiceAccount, &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta("coredns", "kube-system")}},
		// The DNS check's pod starts before the controller-manager has made
		// any namespace's default service account.
		{gvrServiceAccount, &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(probeServiceAccount, "kube-system"), AutomountServiceAccountToken: new(bool)}},
		{gvrClusterRole, &rbacv1.ClusterRole{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
			ObjectMeta: meta("system:coredns", ""),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
			},
		}},
		{gvrClusterRoleBinding, &rbacv1.ClusterRoleBinding{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: meta("system:coredns", ""),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:coredns"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "coredns", Namespace: "kube-system"}},
		}},
		{gvrConfigMap, &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta("coredns", "kube-system"), Data: map[string]string{"Corefile": corefile(c)}}},
		{gvrDeployment, &appsv1.Deployment{
			TypeMeta:   typeMeta("apps/v1", "Deployment"),
			ObjectMeta: meta("coredns", "kube-system"),
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: dnsLabels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: dnsLabels},
					Spec: corev1.PodSpec{
						ServiceAccountName: "coredns",
						PriorityClassName:  "system-cluster-critical",
						// CoreDNS itself asks the node's resolver.
						DNSPolicy:   corev1.DNSDefault,
						Tolerations: tolerateAll(),
						Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight:          100,
							PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: dnsLabels}},
						}}}},
						Containers: []corev1.Container{ctr},
						Volumes:    volumes,
					},
				},
			},
		}},
		{gvrService, &corev1.Service{
			TypeMeta:   typeMeta("v1", "Service"),
			ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "app.kubernetes.io/managed-by": "docker-rke"}},
			Spec: corev1.ServiceSpec{
				Selector:  dnsLabels,
				ClusterIP: c.ClusterDNS,
				Ports: []corev1.ServicePort{
					{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
					{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
					{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
				},
			},
		}},
	}
}

// tolerateAll lets cluster services run on every node, tainted or not.
func tolerateAll() []corev1.Toleration {
	return []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
}

// tolerateDefined tolerates the taints the definition puts on nodes, and
// not the ones Kubernetes puts on nodes that are not Ready: a probe must
// run where it can run now.
func tolerateDefined(c runtime.Cluster) []corev1.Toleration {
	seen := map[string]bool{}
	var out []corev1.Toleration
	for _, n := range c.Nodes {
		for _, t := range n.Taints {
			if !seen[t.Key] {
				seen[t.Key] = true
				out = append(out, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOpExists})
			}
		}
	}
	return out
}

// pullPolicy never pulls the images docker rke builds: no registry has
// them, and every node has them already.
func pullPolicy(c runtime.Cluster, image string) corev1.PullPolicy {
	if image == c.Images.Pause || image == c.Probe.Image {
		return corev1.PullNever
	}
	return corev1.PullIfNotPresent
}

func hostBinVolume(dir string) corev1.Volume {
	return corev1.Volume{Name: "bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}
}

// ProbePod is a pod that runs the node tools (rke-tools) with args, from
// the pause image, on node if given. up runs one to check DNS; the tests
// run them to check the pod network.
func ProbePod(c runtime.Cluster, name, node string, args ...string) *corev1.Pod {
	p := c.Probe
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "docker-rke", "docker-rke/probe": name}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			NodeName:                      node,
			Tolerations:                   tolerateDefined(c),
			TerminationGracePeriodSeconds: new(int64),
			Containers: []corev1.Container{{
				Name:            "probe",
				Image:           p.Image,
				ImagePullPolicy: pullPolicy(c, p.Image),
				Command:         p.Command,
				Args:            args,
				VolumeMounts:    []corev1.VolumeMount{{Name: "bin", MountPath: p.HostBin, ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{hostBinVolume(p.HostBin)},
		},
	}
}

// ProbeNamespace is a namespace for probe pods (and pods of the tests
// that mount host folders): probe pods mount the node's binaries from a
// host path, which the cluster's default Pod Security level, baseline,
// refuses, so it is labelled privileged: the explicit choice the level
// asks for. up's own probe runs in kube-system.
func ProbeNamespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"app.kubernetes.io/managed-by":       "docker-rke",
		"pod-security.kubernetes.io/enforce": "privileged",
		"pod-security.kubernetes.io/warn":    "privileged",
		"pod-security.kubernetes.io/audit":   "privileged",
	}}}
}

// EnsureProbeNamespace makes a ProbeNamespace (one that exists is kept)
// and waits until its default service account exists: the controller
// manager makes it a moment after the namespace, and until then a pod
// created there is refused.
func EnsureProbeNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ProbeNamespace(name), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s: no default service account: %w", name, err)
	}
	return nil
}

// nodeProgress is what waitNodesReady saw.
type nodeProgress struct {
	registered time.Duration // until every kubelet had posted its status
	ready      time.Duration
	// notReady says why each node that is not Ready is not; apiErr is the
	// last failure to list Nodes, if the API did not answer.
	notReady map[string]string
	apiErr   error
}

// waitNodesReady polls the Nodes until every planned one is Ready, with
// a status its kubelet posted since the node started (since, by node
// name; a node without one takes any): a node that was stopped still
// shows the Ready of before.
func waitNodesReady(ctx context.Context, cs kubernetes.Interface, c runtime.Cluster, since map[string]time.Time, timeout time.Duration, log dind.Logger) (nodeProgress, error) {
	start := time.Now()
	prog := nodeProgress{notReady: map[string]string{}}
	notReady := prog.notReady
	seenReady := map[string]bool{}
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		prog.apiErr = err
		if err != nil {
			return false, nil
		}
		byName := map[string]corev1.Node{}
		for _, n := range list.Items {
			byName[n.Name] = n
		}
		registered := true
		for _, pn := range c.Nodes {
			n, ok := byName[pn.Name]
			if !ok || n.Status.NodeInfo.KubeletVersion == "" {
				registered = false
				notReady[pn.Name] = "kubelet has not registered"
				continue
			}
			cond := readyCondition(n)
			if cond.LastHeartbeatTime.Time.Before(since[pn.Name].Truncate(time.Second)) {
				notReady[pn.Name] = "its kubelet has not reported since the node started"
				continue
			}
			if cond.Status == corev1.ConditionTrue {
				delete(notReady, pn.Name)
				if !seenReady[pn.Name] {
					seenReady[pn.Name] = true
					log.Printf("[%s] node %s: Ready", c.Name, pn.Name)
				}
				continue
			}
			notReady[pn.Name] = fmt.Sprintf("%s: %s", cond.Reason, cond.Message)
		}
		if registered && prog.registered == 0 {
			prog.registered = time.Since(start)
		}
		return len(notReady) == 0, nil
	})
	prog.ready = time.Since(start)
	return prog, err
}

func readyCondition(n corev1.Node) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NoStatus", Message: "no Ready condition yet"}
}

// probeServiceAccount runs docker rke's own probe pods in kube-system.
const probeServiceAccount = "docker-rke-probe"

// dnsCheck is a pod that looks up kubernetes.default through the cluster
// DNS. It is created as soon as the API answers and retries on its own, so
// it runs the moment a node and CoreDNS can take it.
type dnsCheck struct {
	cs      kubernetes.Interface
	c       runtime.Cluster
	name    string
	timeout time.Duration
}

func startDNSCheck(ctx context.Context, cs kubernetes.Interface, c runtime.Cluster, timeout time.Duration) (*dnsCheck, error) {
	pod := ProbePod(c, "", "", "lookup", "--timeout="+timeout.String(), DNSCheckName(c))
	pod.GenerateName = "docker-rke-dns-check-"
	pod.Spec.ServiceAccountName = probeServiceAccount
	pod.Spec.AutomountServiceAccountToken = new(bool)
	made, err := cs.CoreV1().Pods("kube-system").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: DNS check pod: %w", c.Name, err)
	}
	return &dnsCheck{cs: cs, c: c, name: made.Name, timeout: timeout}, nil
}

// DNSCheckName is the name the DNS check looks up.
func DNSCheckName(c runtime.Cluster) string {
	return "kubernetes.default.svc." + c.ClusterDomain + "."
}

func (d *dnsCheck) wait(ctx context.Context) error {
	phase, err := WaitLookup(ctx, d.cs, "kube-system", d.name, DNSCheckName(d.c), d.timeout+30*time.Second)
	if err == nil && phase == corev1.PodSucceeded {
		return nil
	}
	detail := PodLogs(ctx, d.cs, "kube-system", d.name)
	return fmt.Errorf("cluster %s: a pod's DNS lookup of kubernetes.default failed (pod %s: %s %v%s); CoreDNS: %s; the pod's output:\n%s", d.c.Name, d.name, phase, err, PodStatus(ctx, d.cs, "kube-system", d.name), dnsPodsSummary(ctx, d.cs), detail)
}

func (d *dnsCheck) cleanup(ctx context.Context) {
	_ = d.cs.CoreV1().Pods("kube-system").Delete(context.WithoutCancel(ctx), d.name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
}

// WaitPodDone waits until a pod has succeeded or failed.
func WaitPodDone(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) (corev1.PodPhase, error) {
	var phase corev1.PodPhase
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, nil
	})
	return phase, err
}

// WaitLookup waits until a probe pod's lookup of name answered, read
// from its log as the probe writes it (the tools image's lookup prints
// "NAME: [ADDRESS...]" once it has an answer), or until the pod ended,
// and returns PodSucceeded for an answer. Reading the answer as it comes
// spares the wait for the kubelet to notice that the probe exited and to
// report it (1-2 s after the answer on a busy cluster1, on the way to
// every up and start). Until the probe runs, or whenever its log stream
// ends without the answer, the pod's phase is polled.
func WaitLookup(ctx context.Context, cs kubernetes.Interface, ns, pod, name string, timeout time.Duration) (corev1.PodPhase, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var phase corev1.PodPhase
	answered := false
	err := wait.PollUntilContextCancel(ctx, 300*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase = p.Status.Phase
		if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
			return true, nil
		}
		if phase == corev1.PodRunning {
			answered = followForAnswer(ctx, cs, ns, pod, name+": [")
		}
		return answered, nil
	})
	if answered {
		return corev1.PodSucceeded, nil
	}
	return phase, err
}

// followForAnswer follows a running pod's log until a line begins with
// prefix (true) or the stream ends (false: the container exited, the
// stream broke or the request's timeout cut it).
func followForAnswer(ctx context.Context, cs kubernetes.Interface, ns, pod, prefix string) bool {
	stream, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		return false
	}
	defer stream.Close()
	return hasLine(stream, prefix)
}

// hasLine reads r until a line begins with prefix (true) or r ends.
func hasLine(r io.Reader, prefix string) bool {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return true
		}
	}
	return false
}

// PodStatus says why a pod is where it is: its reason and message and
// its containers' states.
func PodStatus(ctx context.Context, cs kubernetes.Interface, ns, name string) string {
	p, err := cs.CoreV1().Pods(ns).Get(context.WithoutCancel(ctx), name, metav1.GetOptions{})
	if err != nil {
		return "; " + err.Error()
	}
	out := fmt.Sprintf("; node %q reason %q message %q", p.Spec.NodeName, p.Status.Reason, p.Status.Message)
	for _, c := range p.Status.ContainerStatuses {
		if t := c.State.Terminated; t != nil {
			out += fmt.Sprintf("; container %s exited %d (%s) %s", c.Name, t.ExitCode, t.Reason, t.Message)
		} else if w := c.State.Waiting; w != nil {
			out += fmt.Sprintf("; container %s waiting (%s) %s", c.Name, w.Reason, w.Message)
		}
	}
	return out
}

// PodLogs returns a pod's last lines, or why there are none.
func PodLogs(ctx context.Context, cs kubernetes.Interface, ns, name string) string {
	tail := int64(20)
	data, err := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	return string(data)
}

func dnsPodsSummary(ctx context.Context, cs kubernetes.Interface) string {
	list, err := cs.CoreV1().Pods("kube-system").List(context.WithoutCancel(ctx), metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, p := range list.Items {
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		out = append(out, fmt.Sprintf("%s on %s %s ready=%v", p.Name, p.Spec.NodeName, p.Status.Phase, ready))
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "no pods"
	}
	return strings.Join(out, ", ")
}
