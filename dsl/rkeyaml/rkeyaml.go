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

	if err := checkExpansion(file, &doc); err != nil {
		return nil, nil, err
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

// MaxExpandedNodes bounds the YAML nodes a document stands for once every
// alias is expanded. A file of MaxDefinitionSize without aliases holds at
// most about half a million; a few aliases may multiply that, but ten
// levels of ten aliases each (the "billion laughs") may not.
const MaxExpandedNodes = 1 << 20

// checkExpansion refuses a document whose aliases expand past
// MaxExpandedNodes, before anything walks it: each reader follows aliases,
// so the expanded size is what the walk costs. It names the alias that
// expands the most.
func checkExpansion(file string, doc *yaml.Node) error {
	sizes := map[*yaml.Node]int{}
	var worst *yaml.Node
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if s, ok := sizes[n]; ok {
			return s
		}
		sizes[n] = MaxExpandedNodes + 1 // an anchor inside itself is unbounded
		s := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			s = size(n.Alias)
			if worst == nil || s > sizes[worst] {
				worst = n
			}
		}
		for _, c := range n.Content {
			s = min(s+size(c), MaxExpandedNodes+1)
		}
		sizes[n] = s
		return s
	}
	if size(doc) <= MaxExpandedNodes {
		return nil
	}
	at := doc
	if worst != nil {
		at = worst
	}
	what := "aliases expand"
	if worst != nil {
		what = fmt.Sprintf("the alias *%s here (with the others) expands", worst.Value)
	}
	return problemErr(pos(file, at), "", fmt.Sprintf("%s the document to more than %d YAML nodes; the limit guards against alias bombs (\"billion laughs\")", what, MaxExpandedNodes))
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
	// reported keeps a problem found at one node from being reported again
	// when a second reader walks the same mapping.
	reported map[*yaml.Node]bool
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

// pairs iterates a mapping's keys and values in file order, and reports a
// non-mapping, a key set twice and a key that is not a plain scalar. YAML
// merge keys (<<: *defaults) are honoured as yaml.v3's Decode honours them:
// the mapping's own keys win, then each merged mapping in order.
func (r *reader) pairs(n *yaml.Node, path string, fn func(k, v *yaml.Node, name string)) {
	n = deref(n)
	if isEmpty(n) && n.Kind == yaml.ScalarNode {
		return
	}
	if n.Kind != yaml.MappingNode {
		r.errf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	r.walkPairs(n, path, map[string]bool{}, fn)
}

func (r *reader) walkPairs(n *yaml.Node, path string, set map[string]bool, fn func(k, v *yaml.Node, name string)) {
	own := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			merges = append(merges, r.mergeSources(v, path)...)
			continue
		case k.Kind != yaml.ScalarNode:
			r.once(k, path, "want a plain key, got %s", kindName(k))
			continue
		}
		if first, dup := own[k.Value]; dup {
			r.once(k, joinPath(path, k.Value), "set twice in the same mapping; first at line %d", first.Line)
			continue
		}
		own[k.Value] = k
		if !set[k.Value] {
			set[k.Value] = true
			fn(k, v, k.Value)
		}
	}
	for _, m := range merges {
		r.walkPairs(m, path, set, fn)
	}
}

// mergeSources is the mappings a merge key names: one alias or a list.
func (r *reader) mergeSources(v *yaml.Node, path string) []*yaml.Node {
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	var out []*yaml.Node
	for _, item := range items {
		if m := deref(item); m.Kind == yaml.MappingNode {
			out = append(out, m)
		} else {
			r.once(item, path+".<<", "a merge key wants a mapping or a list of mappings, got %s", kindName(m))
		}
	}
	return out
}

// once reports a problem at a node a single time, however many readers
// walk the mapping it is in.
func (r *reader) once(n *yaml.Node, field, format string, args ...any) {
	if r.reported == nil {
		r.reported = map[*yaml.Node]bool{}
	}
	if !r.reported[n] {
		r.reported[n] = true
		r.errf(n, field, format, args...)
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// stringMap reads a mapping of strings (labels, extra_args) in one pass
// and calls at for each key. Decode into a map would do, but yaml.v3
// compares every key with every other: seconds for a file of 50,000 labels.
func (r *reader) stringMap(v *yaml.Node, path string, at func(k *yaml.Node, name string)) (map[string]string, bool) {
	var out map[string]string
	if deref(v).Kind == yaml.MappingNode {
		out = map[string]string{} // {} is set and empty, as Decode has it
	}
	ok := true
	r.pairs(v, path, func(k, val *yaml.Node, name string) {
		s, good := r.str(val, path+"."+name)
		if !good {
			ok = false
			return
		}
		out[name] = s
		if at != nil {
			at(k, name)
		}
	})
	if v = deref(v); v.Kind != yaml.MappingNode && !(v.Kind == yaml.ScalarNode && isEmpty(v)) {
		ok = false // pairs reported it
	}
	return out, ok
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
	v = deref(v)
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
