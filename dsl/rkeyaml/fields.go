package rkeyaml

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/docker-rke/docker-rke/model"
)

// Why a known RKE field is not used, by top-level key.
var notUsed = map[string]string{
	"network":                           "docker rke always runs its own pod network (ptp over each node's podCIDR); the RKE network plugin is not used",
	"authentication":                    "not used: the API server certificate gets the nodes' names and addresses automatically",
	"authorization":                     "not used: RBAC and Node authorization are always on",
	"addons":                            "not used: apply add-ons with kubectl once the cluster is up",
	"addons_include":                    "not used: apply add-ons with kubectl once the cluster is up",
	"ingress":                           "not used: no ingress controller is deployed",
	"dns":                               "not used: CoreDNS is always deployed",
	"monitoring":                        "not used: no metrics server is deployed",
	"cloud_provider":                    "not used: nodes are containers, there is no cloud provider",
	"ignore_docker_version":             "not used: the node image brings its own engine",
	"enable_cri_dockerd":                "not used: kubelet talks to containerd's CRI inside each node",
	"prefix_path":                       "not used",
	"win_prefix_path":                   "not used",
	"addon_job_timeout":                 "not used",
	"restore":                           "not used",
	"rotate_certificates":               "not used",
	"upgrade_strategy":                  "not used: up upgrades one node at a time, draining the nodes with the worker role",
	"rotate_encryption_key":             "not used",
	"cri_dockerd_stream_server_address": "not used",
	"cri_dockerd_stream_server_port":    "not used",
	"enable_network_policy":             "not used",
}

// connectionFields are how RKE reaches a host (SSH, its engine's socket),
// on every node of every cluster.yml and as cluster-wide defaults. docker
// rke reaches nodes through the docker context, so they are accepted
// without a word: a warning on every run of every RKE file would say
// nothing new (the README says it once).
var connectionFields = map[string]bool{
	"user": true, "port": true, "ssh_key": true, "ssh_key_path": true, "ssh_cert": true,
	"ssh_cert_path": true, "ssh_agent_auth": true, "docker_socket": true, "bastion_host": true,
}

var nodeNotUsed = map[string]string{
	"internal_address": "not used: nodes get their addresses from their docker network",
}

func (r *reader) cluster(root *yaml.Node, c *model.Cluster) {
	var ext *yaml.Node
	r.pairs(root, "", func(k, v *yaml.Node, name string) {
		switch name {
		case ExtensionKey:
			ext = v
		case "cluster_name":
			if s, ok := r.str(v, name); ok {
				c.Name = s
				r.locs[key(-1, "name")] = loc{pos(r.file, v), name}
			}
		case "kubernetes_version":
			if s, ok := r.str(v, name); ok {
				c.KubernetesVersion = s
				r.locs[key(-1, "kubernetesVersion")] = loc{pos(r.file, v), name}
			}
		case "nodes":
			r.locs[key(-1, "nodes")] = loc{pos(r.file, k), name}
			r.nodes(v, c)
		case "services":
			r.services(v, c)
		case "system_images":
			r.systemImages(v, c)
		case "private_registries":
			r.privateRegistries(v, c)
		default:
			if why, known := notUsed[name]; known {
				r.ignored(k, v, name, why)
			} else if connectionFields[name] || strings.HasPrefix(name, "x-") {
				// How RKE reaches hosts (connectionFields); or an
				// x- key, which holds anchors for merge keys and aliases, as in
				// compose files: it sets nothing itself.
			} else {
				r.ignored(k, v, name, "unknown field: not an RKE cluster.yml field")
			}
		}
	})
	// After the nodes, whatever the order of the keys: the extension
	// names them.
	if ext != nil {
		r.extension(ext, c)
	}
}

// ExtensionKey is the top-level key of docker rke's own settings in a
// cluster.yml. RKE ignores keys it does not know, so the file stays valid
// for RKE:
//
//	docker_rke:
//	  nodes:
//	    - node: cluster2-node1      # a node's name: its hostname_override, else its address
//	      ports:
//	        - host_port: 8080
//	          node_port: 30080
//	          protocol: tcp         # or udp; default tcp
//	          host_ip: 127.0.0.1    # default; 0.0.0.0 for every address
//	      mounts:
//	        - host_path: ./data     # relative to the file's folder
//	          node_path: /data
//	          read_only: true
//	  registry_mirrors:
//	    - url: http://10.0.0.1:5000
//	      registries: [registry.k8s.io, quay.io]   # default [docker.io]
//	  subnet: 172.31.250.0/24       # the node network's, as the script's c.Subnet
const ExtensionKey = "docker_rke"

func (r *reader) extension(v *yaml.Node, c *model.Cluster) {
	r.pairs(v, ExtensionKey, func(k, nv *yaml.Node, name string) {
		path := ExtensionKey + "." + name
		switch name {
		case "nodes":
		case "registry_mirrors":
			r.registryMirrors(nv, path, c)
			return
		case "subnet":
			// Checked with the script's c.Subnet by the model, at this line.
			if s, ok := r.str(nv, path); ok {
				r.locs[key(-1, "subnet")] = loc{pos(r.file, nv), path}
				c.Subnet = s
			}
			return
		default:
			r.errf(k, path, "unknown field: docker rke's settings are nodes, registry_mirrors and subnet")
			return
		}
		if nv.Kind != yaml.SequenceNode {
			r.errf(nv, path, "want a list, got %s", kindName(nv))
			return
		}
		seen := map[int]string{}
		for i, item := range nv.Content {
			r.extensionNode(item, fmt.Sprintf("%s[%d]", path, i), c, seen)
		}
	})
}

// registryMirrors reads docker rke's registry_mirrors: mirrors of any
// registry, where RKE's private_registries only knows Docker Hub's.
func (r *reader) registryMirrors(v *yaml.Node, path string, c *model.Cluster) {
	var list []struct {
		URL        string   `yaml:"url"`
		Registries []string `yaml:"registries"`
	}
	if !r.strictList(v, path, &list, "url", "registries") {
		return
	}
	for i, m := range list {
		r.locs[key(-1, fmt.Sprintf("registryMirrors[%d]", len(c.RegistryMirrors)))] = loc{pos(r.file, v.Content[i]), fmt.Sprintf("%s[%d]", path, i)}
		c.RegistryMirrors = append(c.RegistryMirrors, model.RegistryMirror{URL: m.URL, Registries: m.Registries})
	}
}

// extensionNode reads one node's ports and mounts.
func (r *reader) extensionNode(item *yaml.Node, path string, c *model.Cluster, seen map[int]string) {
	var name string
	var nameNode *yaml.Node
	var ports, mounts *yaml.Node
	r.pairs(item, path, func(k, v *yaml.Node, field string) {
		switch field {
		case "node":
			name, _ = r.str(v, path+".node")
			nameNode = v
		case "ports":
			ports = v
		case "mounts":
			mounts = v
		default:
			r.errf(k, path+"."+field, "unknown field: want node, ports or mounts")
		}
	})
	if nameNode == nil {
		r.errf(item, path, "no node: name the node these settings are for (node: NAME)")
		return
	}
	ni := slices.IndexFunc(c.Nodes, func(n model.Node) bool { return n.Name == name })
	if ni < 0 {
		var names []string
		for _, n := range c.Nodes {
			names = append(names, n.Name)
		}
		r.errf(nameNode, path+".node", "no node %q in nodes (the nodes are %s)", name, strings.Join(names, ", "))
		return
	}
	if prev, dup := seen[ni]; dup {
		r.errf(nameNode, path+".node", "node %q already has its settings at %s", name, prev)
		return
	}
	seen[ni] = path
	n := &c.Nodes[ni]
	if ports != nil {
		var list []struct {
			HostPort int    `yaml:"host_port"`
			NodePort int    `yaml:"node_port"`
			Protocol string `yaml:"protocol"`
			HostIP   string `yaml:"host_ip"`
		}
		if r.strictList(ports, path+".ports", &list, "host_port", "node_port", "protocol", "host_ip") {
			for i, p := range list {
				field := fmt.Sprintf("ports[%d]", len(n.Ports))
				r.locs[key(ni, field)] = loc{pos(r.file, ports.Content[i]), fmt.Sprintf("%s.ports[%d]", path, i)}
				n.Ports = append(n.Ports, model.Port{HostPort: p.HostPort, NodePort: p.NodePort, Protocol: model.Protocol(strings.ToLower(p.Protocol)), HostIP: p.HostIP})
			}
		}
	}
	if mounts != nil {
		var list []struct {
			HostPath string `yaml:"host_path"`
			NodePath string `yaml:"node_path"`
			ReadOnly bool   `yaml:"read_only"`
		}
		if r.strictList(mounts, path+".mounts", &list, "host_path", "node_path", "read_only") {
			for i, m := range list {
				field := fmt.Sprintf("mounts[%d]", len(n.Mounts))
				r.locs[key(ni, field)] = loc{pos(r.file, mounts.Content[i]), fmt.Sprintf("%s.mounts[%d]", path, i)}
				n.Mounts = append(n.Mounts, model.Mount{HostPath: m.HostPath, NodePath: m.NodePath, ReadOnly: m.ReadOnly})
			}
		}
	}
}

// strictList decodes a list of mappings, refusing keys it does not know:
// docker rke's own settings have no RKE meaning to fall back on, so a
// typo is an error, not a warning.
func (r *reader) strictList(v *yaml.Node, path string, out any, fields ...string) bool {
	if v.Kind != yaml.SequenceNode {
		r.errf(v, path, "want a list, got %s", kindName(v))
		return false
	}
	ok := true
	for i, item := range v.Content {
		r.pairs(item, fmt.Sprintf("%s[%d]", path, i), func(k, _ *yaml.Node, field string) {
			if !slices.Contains(fields, field) {
				r.errf(k, fmt.Sprintf("%s[%d].%s", path, i, field), "unknown field: want %s", strings.Join(fields, ", "))
				ok = false
			}
		})
	}
	return ok && r.decode(v, path, out)
}

func (r *reader) nodes(v *yaml.Node, c *model.Cluster) {
	if v.Kind != yaml.SequenceNode {
		r.errf(v, "nodes", "want a list of nodes, got %s", kindName(v))
		return
	}
	if len(v.Content) > model.MaxNodesPerCluster {
		r.errf(v.Content[model.MaxNodesPerCluster], "nodes", "too many nodes: %d, the limit is %d per cluster", len(v.Content), model.MaxNodesPerCluster)
		return
	}
	for i, item := range v.Content {
		path := fmt.Sprintf("nodes[%d]", i)
		n := model.Node{}
		r.locs[key(i, "")] = loc{pos(r.file, item), path}
		var address, override string
		var addressNode, overrideNode *yaml.Node
		r.pairs(item, path, func(k, v *yaml.Node, name string) {
			fpath := path + "." + name
			switch name {
			case "address":
				address, _ = r.str(v, fpath)
				addressNode = v
			case "hostname_override":
				override, _ = r.str(v, fpath)
				overrideNode = v
			case "role":
				var roles []string
				if r.decode(v, fpath, &roles) {
					for _, role := range roles {
						n.Roles = append(n.Roles, model.Role(role))
					}
				}
				r.locs[key(i, "roles")] = loc{pos(r.file, v), fpath}
			case "labels":
				n.Labels, _ = r.stringMap(v, fpath, func(lk *yaml.Node, label string) {
					r.locs[key(i, "labels["+label+"]")] = loc{pos(r.file, lk), fpath + "." + label}
				})
				r.locs[key(i, "labels")] = loc{pos(r.file, v), fpath}
			case "taints":
				var taints []model.Taint
				if r.decode(v, fpath, &taints) {
					n.Taints = taints
					for ti, t := range v.Content {
						r.locs[key(i, fmt.Sprintf("taints[%d]", ti))] = loc{pos(r.file, t), fmt.Sprintf("%s[%d]", fpath, ti)}
					}
				}
			default:
				if connectionFields[name] {
					break
				}
				if why, known := nodeNotUsed[name]; known {
					r.ignored(k, v, fpath, why)
				} else {
					r.ignored(k, v, fpath, "unknown field: not an RKE node field")
				}
			}
		})
		// RKE's address is how it reaches a host; here the node is a
		// container, so the address (or hostname_override) is its name.
		n.Name = address
		nameLoc := loc{pos(r.file, item), path + ".address"}
		if addressNode != nil {
			nameLoc.pos = pos(r.file, addressNode)
		}
		if override != "" {
			n.Name = override
			nameLoc = loc{pos(r.file, overrideNode), path + ".hostname_override"}
		}
		r.locs[key(i, "name")] = nameLoc
		if n.Roles == nil {
			r.locs[key(i, "roles")] = loc{pos(r.file, item), path + ".role"}
		}
		c.Nodes = append(c.Nodes, n)
	}
}

// serviceNames maps RKE's services keys to components.
var serviceNames = map[string]string{
	"etcd":            model.ComponentEtcd,
	"kube-api":        model.ComponentAPIServer,
	"kube-controller": model.ComponentControllerManager,
	"scheduler":       model.ComponentScheduler,
	"kubelet":         model.ComponentKubelet,
	"kubeproxy":       model.ComponentKubeProxy,
}

func (r *reader) services(v *yaml.Node, c *model.Cluster) {
	var apiServiceRange, controllerServiceRange string
	var controllerRangeNode *yaml.Node
	legacy := map[string]*yaml.Node{} // services.etcd's snapshot, creation, retention
	defer func() { r.legacySnapshots(legacy, c) }()
	r.pairs(v, "services", func(k, sv *yaml.Node, svcName string) {
		spath := "services." + svcName
		component, known := serviceNames[svcName]
		if !known {
			r.ignored(k, sv, spath, "unknown service: want one of etcd, kube-api, kube-controller, scheduler, kubelet, kubeproxy")
			return
		}
		svc := model.Service{}
		r.pairs(sv, spath, func(fk, fv *yaml.Node, field string) {
			fpath := spath + "." + field
			here := loc{pos(r.file, fv), fpath}
			switch {
			case field == "extra_args":
				if args, ok := r.stringMap(fv, fpath, nil); ok {
					svc.ExtraArgs = args
					r.locs[key(-1, "services["+component+"].extraArgs")] = here
				}
			case field == "extra_binds":
				if r.decode(fv, fpath, &svc.ExtraBinds) {
					r.locs[key(-1, "services["+component+"].extraBinds")] = here
				}
			case field == "extra_env":
				if r.decode(fv, fpath, &svc.ExtraEnv) {
					r.locs[key(-1, "services["+component+"].extraEnv")] = here
				}
			case svcName == "kube-api" && field == "pod_security_configuration":
				// RKE names a built-in configuration (privileged or
				// restricted); baseline is a level of its own here.
				c.PodSecurity, _ = r.str(fv, fpath)
				r.locs[key(-1, "podSecurity")] = here
			case svcName == "kube-api" && field == "service_cluster_ip_range":
				apiServiceRange, _ = r.str(fv, fpath)
				c.ServiceCIDR = apiServiceRange
				r.locs[key(-1, "serviceCIDR")] = here
			case svcName == "kube-controller" && field == "service_cluster_ip_range":
				controllerServiceRange, _ = r.str(fv, fpath)
				controllerRangeNode = fv
			case svcName == "kube-controller" && field == "cluster_cidr":
				c.PodCIDR, _ = r.str(fv, fpath)
				r.locs[key(-1, "podCIDR")] = here
			case svcName == "kubelet" && field == "cluster_domain":
				c.ClusterDomain, _ = r.str(fv, fpath)
				r.locs[key(-1, "clusterDomain")] = here
			case svcName == "kubelet" && field == "cluster_dns_server":
				c.ClusterDNS, _ = r.str(fv, fpath)
				r.locs[key(-1, "clusterDNS")] = here
			case svcName == "kubelet" && field == "infra_container_image":
				c.Images.Pause, _ = r.str(fv, fpath)
				r.locs[key(-1, "images.pause")] = here
			case svcName == "etcd" && field == "backup_config":
				// null, as rke config writes it: not configured.
				if fv.Kind != yaml.ScalarNode || fv.Tag != "!!null" {
					r.backupConfig(fv, fpath, c)
					r.locs[key(-1, "etcdSnapshots")] = here
				}
			case svcName == "etcd" && (field == "snapshot" || field == "creation" || field == "retention"):
				legacy[field] = fv
				r.locs[key(-1, "etcdSnapshots")] = here
			case field == "image":
				r.ignored(fk, fv, fpath, "not used: set images under system_images")
			default:
				r.ignored(fk, fv, fpath, "not used by docker rke")
			}
		})
		if svc.ExtraArgs != nil || svc.ExtraBinds != nil || svc.ExtraEnv != nil {
			if c.Services == nil {
				c.Services = map[string]model.Service{}
			}
			c.Services[component] = svc
		}
	})
	if controllerServiceRange != "" && c.ServiceCIDR == "" {
		c.ServiceCIDR = controllerServiceRange
		r.locs[key(-1, "serviceCIDR")] = loc{pos(r.file, controllerRangeNode), "services.kube-controller.service_cluster_ip_range"}
	} else if controllerServiceRange != "" && controllerServiceRange != apiServiceRange {
		r.errf(controllerRangeNode, "services.kube-controller.service_cluster_ip_range", "%s differs from services.kube-api.service_cluster_ip_range %s; they must be the same", controllerServiceRange, apiServiceRange)
	}
}

// backupConfig reads services.etcd.backup_config as RKE does: present and
// not disabled, it takes a snapshot every interval_hours (default 12),
// keeping retention (default 6). Its S3 settings get a warning.
func (r *reader) backupConfig(v *yaml.Node, path string, c *model.Cluster) {
	enabled, hours, keep := true, 12, 6
	r.pairs(v, path, func(k, fv *yaml.Node, field string) {
		switch field {
		case "enabled":
			r.decode(fv, path+".enabled", &enabled)
		case "interval_hours":
			r.decode(fv, path+".interval_hours", &hours)
		case "retention":
			r.decode(fv, path+".retention", &keep)
		case "s3backupconfig":
			r.ignored(k, fv, path+"."+field, "not used: snapshots stay on the etcd nodes")
		default:
			r.ignored(k, fv, path+"."+field, "not used by docker rke")
		}
	})
	if enabled {
		c.EtcdSnapshots = &model.EtcdSnapshots{Interval: time.Duration(hours) * time.Hour, Retention: keep}
	}
}

// legacySnapshots reads RKE's older services.etcd.snapshot (on), creation
// (how often, "6h") and retention (how long, "24h"), unless backup_config
// said it already.
func (r *reader) legacySnapshots(f map[string]*yaml.Node, c *model.Cluster) {
	on, ok := f["snapshot"]
	if !ok || c.EtcdSnapshots != nil || isEmpty(on) {
		return
	}
	var enabled bool
	if !r.decode(on, "services.etcd.snapshot", &enabled) || !enabled {
		return
	}
	every, keepFor := 5*time.Minute, 24*time.Hour // RKE's defaults
	for field, d := range map[string]*time.Duration{"creation": &every, "retention": &keepFor} {
		if n := f[field]; n != nil && !isEmpty(n) {
			text, _ := r.str(n, "services.etcd."+field)
			parsed, err := time.ParseDuration(text)
			if err != nil || parsed <= 0 {
				r.errf(n, "services.etcd."+field, "want a duration such as 6h, got %q", text)
				return
			}
			*d = parsed
		}
	}
	keep := int(keepFor / every)
	if keep < 1 {
		keep = 1
	}
	c.EtcdSnapshots = &model.EtcdSnapshots{Interval: every, Retention: keep}
}

// privateRegistries maps RKE's private_registries: each url becomes a
// mirror of Docker Hub and of its own registry name (so an http:// url is
// pulled from over http); is_default prefixes the component images with
// the registry, as RKE does for its system images. Credentials are not
// supported yet and get a warning.
func (r *reader) privateRegistries(v *yaml.Node, c *model.Cluster) {
	if isEmpty(v) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		r.errf(v, "private_registries", "want a list, got %s", kindName(v))
		return
	}
	for i, item := range v.Content {
		path := fmt.Sprintf("private_registries[%d]", i)
		var reg struct {
			URL       string `yaml:"url"`
			IsDefault bool   `yaml:"is_default"`
		}
		if !r.decode(item, path, &reg) {
			continue
		}
		r.pairs(item, path, func(k, fv *yaml.Node, name string) {
			switch name {
			case "url", "is_default":
			case "user", "password", "ecr_credential_plugin":
				r.ignored(k, fv, path+"."+name, "not used yet: registry credentials are not supported")
			default:
				r.ignored(k, fv, path+"."+name, "unknown field: not an RKE private_registries field")
			}
		})
		mirror := reg.URL
		if !strings.Contains(mirror, "://") {
			mirror = "https://" + mirror
		}
		r.locs[key(-1, fmt.Sprintf("registryMirrors[%d]", len(c.RegistryMirrors)))] = loc{pos(r.file, item), path + ".url"}
		host := strings.SplitN(strings.SplitN(mirror, "://", 2)[1], "/", 2)[0]
		mirrored := []string{model.DockerHub}
		if model.RegistryNameProblem(host) == "" {
			mirrored = append(mirrored, host)
		}
		c.RegistryMirrors = append(c.RegistryMirrors, model.RegistryMirror{URL: mirror, Registries: mirrored})
		if reg.IsDefault {
			r.defaultRegistry = host
			// The node image comes from there too when the engine
			// lacks it: RKE's nodes pull every system image from it.
			r.locs[key(-1, "imageRegistry")] = loc{pos(r.file, item), path + ".url"}
			c.ImageRegistry = host
		}
	}
}

func (r *reader) systemImages(v *yaml.Node, c *model.Cluster) {
	r.pairs(v, "system_images", func(k, iv *yaml.Node, name string) {
		path := "system_images." + name
		var target *string
		var field string
		switch name {
		case "kubernetes":
			target, field = &c.Images.Kubernetes, "images.kubernetes"
		case "etcd":
			target, field = &c.Images.Etcd, "images.etcd"
		case "coredns":
			target, field = &c.Images.CoreDNS, "images.coredns"
		case "pod_infra_container":
			target, field = &c.Images.Pause, "images.pause"
		default:
			r.ignored(k, iv, path, "not used: docker rke runs no such component")
			return
		}
		*target, _ = r.str(iv, path)
		r.locs[key(-1, field)] = loc{pos(r.file, iv), path}
	})
}

// checkTabs reports a tab in indentation, which YAML forbids, with a better
// message than the parser's "found character that cannot start any token".
func checkTabs(file string, src []byte) error {
	for i, line := range bytes.Split(src, []byte("\n")) {
		for col, ch := range line {
			if ch == '\t' {
				return problemErr(model.Position{File: file, Line: i + 1, Col: col + 1}, "", "tab character in indentation: YAML indents with spaces only")
			}
			if ch != ' ' {
				break
			}
		}
	}
	return nil
}

var lineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlError(file string, err error) error {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return problemErr(model.Position{File: file, Line: line}, "", "invalid YAML: "+m[2])
	}
	return problemErr(model.Position{File: file}, "", "invalid YAML: "+msg)
}
