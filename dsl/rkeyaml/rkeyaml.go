// Package rkeyaml reads RKE cluster.yml files into the cluster model. Files
// written for RKE work unchanged: the fields that make sense for nodes in
// containers are honoured, and every other field that sets something gets
// one warning that names it and its line, never an error.
package rkeyaml

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/model"
)

// Parse reads a cluster.yml. file names the file in messages; the cluster
// is named by cluster_name or, as RKE's kube_config_<name>.yml suggests, by
// the file's base name.
func Parse(file string, src []byte) (*model.Definition, model.Problems, error) {
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, nil, problemErr(model.Position{File: file, Line: 1}, "", "file is empty: a cluster.yml needs at least a nodes list")
	}
	if err := checkTabs(file, src); err != nil {
		return nil, nil, err
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, problemErr(pos(file, &extra), "", "more than one YAML document; a cluster.yml holds one cluster")
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, problemErr(pos(file, &doc), "", "want a mapping with a nodes list at the top level")
	}

	r := &reader{file: file, locs: map[string]loc{}}
	c := model.Cluster{}
	r.cluster(doc.Content[0], &c)
	if r.defaultRegistry != "" {
		prefixImages(&c, r.defaultRegistry)
	}
	if c.Name == "" {
		c.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		r.locs[key(-1, "name")] = loc{model.Position{File: file}, "cluster_name (from the file name)"}
	}
	if err := r.problems.Err(); err != nil {
		return nil, r.problems.Warnings(), err
	}

	def := &model.Definition{File: file, Clusters: []model.Cluster{c}}
	problems := def.Check()
	for i := range problems {
		l := r.locate(problems[i].Ref)
		problems[i].Pos, problems[i].Field = l.pos, l.field
	}
	problems = append(r.problems, problems...)
	if err := problems.Err(); err != nil {
		return nil, problems.Warnings(), err
	}
	return def, problems, nil
}

// loc is where a model field came from: its position and its YAML path.
type loc struct {
	pos   model.Position
	field string
}

type reader struct {
	file     string
	problems model.Problems
	locs     map[string]loc // key(node, model field) -> loc
	warned   map[string]bool
	// defaultRegistry is the private registry marked is_default: every
	// component image not named in system_images is pulled from it.
	defaultRegistry string
}

func key(node int, field string) string { return fmt.Sprintf("%d/%s", node, field) }

// locate maps a validation Ref back to the YAML that set it, falling back to
// the node's entry and then to the cluster.
func (r *reader) locate(ref model.Ref) loc {
	field := ref.Field
	if i := strings.IndexByte(field, '['); i > 0 && ref.Node >= 0 {
		if l, ok := r.locs[key(ref.Node, field)]; ok {
			return l
		}
		field = field[:i]
	}
	if l, ok := r.locs[key(ref.Node, field)]; ok {
		return l
	}
	if l, ok := r.locs[key(ref.Node, "")]; ok {
		l.field += "." + ref.Field
		return l
	}
	if l, ok := r.locs[key(-1, "nodes")]; ok && ref.Node < 0 {
		return l
	}
	return loc{pos: model.Position{File: r.file}, field: ref.Field}
}

func pos(file string, n *yaml.Node) model.Position {
	return model.Position{File: file, Line: n.Line, Col: n.Column}
}

func problemErr(p model.Position, field, msg string) error {
	return model.Problems{{Pos: p, Field: field, Message: msg}}.Err()
}

func (r *reader) errf(n *yaml.Node, field, format string, args ...any) {
	r.problems = append(r.problems, model.Problem{Pos: pos(r.file, n), Field: field, Message: fmt.Sprintf(format, args...)})
}

// ignored warns once per field path (nodes[].user is one warning however
// many nodes set it), and only when the field sets something.
func (r *reader) ignored(k, v *yaml.Node, path, why string) {
	if isEmpty(v) {
		return
	}
	generic := genericPath(path)
	if r.warned == nil {
		r.warned = map[string]bool{}
	}
	if r.warned[generic] {
		return
	}
	r.warned[generic] = true
	r.problems = append(r.problems, model.Problem{Pos: pos(r.file, k), Field: generic, Warning: true, Message: why})
}

// genericPath turns nodes[2].user into nodes[].user.
func genericPath(p string) string {
	var b strings.Builder
	skip := false
	for _, ch := range p {
		switch {
		case ch == '[':
			skip = true
			b.WriteRune(ch)
		case ch == ']':
			skip = false
			b.WriteRune(ch)
		case !skip:
			b.WriteRune(ch)
		}
	}
	return b.String()
}

func isEmpty(v *yaml.Node) bool {
	switch v.Kind {
	case yaml.ScalarNode:
		// rke config writes every field, most with a zero value that sets
		// nothing; only fields that set something deserve a warning.
		return v.Tag == "!!null" || v.Value == "" || (v.Tag == "!!bool" && v.Value == "false") || (v.Tag == "!!int" && v.Value == "0")
	case yaml.MappingNode:
		for i := 1; i < len(v.Content); i += 2 {
			if !isEmpty(v.Content[i]) {
				return false
			}
		}
		return true
	case yaml.SequenceNode:
		return len(v.Content) == 0
	case yaml.AliasNode:
		return v.Alias == nil || isEmpty(v.Alias)
	}
	return false
}

// pairs iterates a mapping's keys and values, sorted by nothing but file
// order, and reports a non-mapping.
func (r *reader) pairs(n *yaml.Node, path string, fn func(k, v *yaml.Node, name string)) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isEmpty(n) && n.Kind == yaml.ScalarNode {
		return
	}
	if n.Kind != yaml.MappingNode {
		r.errf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		fn(n.Content[i], n.Content[i+1], n.Content[i].Value)
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (r *reader) decode(v *yaml.Node, path string, out any) bool {
	if err := v.Decode(out); err != nil {
		msg := err.Error()
		if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
			msg = te.Errors[0]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			msg = rest
		}
		r.errf(v, path, "%s", msg)
		return false
	}
	return true
}

func (r *reader) str(v *yaml.Node, path string) (string, bool) {
	var s string
	if v.Kind != yaml.ScalarNode {
		r.errf(v, path, "want a string, got %s", kindName(v))
		return "", false
	}
	ok := r.decode(v, path, &s)
	return s, ok
}

// prefixImages points every component image the file did not name at the
// default private registry, as RKE does with its system images.
func prefixImages(c *model.Cluster, registry string) {
	version := c.KubernetesVersion
	if version == "" {
		version = images.DefaultKubernetesVersion()
	}
	rel, err := images.Lookup(version)
	if err != nil {
		return // validation reports the version
	}
	d := rel.Defaults()
	for _, f := range []struct {
		field *string
		ref   string
	}{{&c.Images.Kubernetes, d.Kubernetes}, {&c.Images.Etcd, d.Etcd}, {&c.Images.CoreDNS, d.CoreDNS}, {&c.Images.Pause, d.Pause}, {&c.Images.CNI, d.CNI}} {
		if *f.field == "" {
			*f.field = registry + "/" + f.ref
		}
	}
}
