package model

import (
	"errors"
	"fmt"
	"strings"
)

// Position is a place in a definition file.
type Position struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

func (p Position) String() string {
	switch {
	case p.Line > 0 && p.Col > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return p.File
	}
}

// Ref points at what a problem is about: a cluster (by index), optionally a
// node of it, and a field. Front ends turn a Ref into a file position.
type Ref struct {
	Cluster int    // index into Definition.Clusters, -1 for the file itself
	Node    int    // index into Cluster.Nodes, -1 for the cluster itself
	Field   string // e.g. "roles", "labels[tier]", "podCIDR"
}

// Problem is one finding of validation or of a front end.
type Problem struct {
	Ref     Ref
	Pos     Position
	Subject string // `cluster "c1" node "n1"`, filled by Describe
	Field   string // the field as the user wrote it, e.g. "nodes[1].role"
	Warning bool
	Message string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Pos.String())
	b.WriteString(": ")
	if p.Subject != "" {
		b.WriteString(p.Subject)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is a list of findings. As an error it reports every one of them,
// so a user fixes a file in one pass instead of one error per run.
type Problems []Problem

// Errors returns only the problems that are errors.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Warnings returns only the warnings.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Err returns nil when there is no error, otherwise an error listing all
// errors (warnings are left out).
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Problems: errs}
}

// InvalidError is returned for a definition that fails validation.
type InvalidError struct{ Problems Problems }

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// IsInvalid reports whether err is (or wraps) an InvalidError.
func IsInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}

// Describe fills the Subject of each problem from the definition, so the
// message names the cluster and node it is about.
func (d *Definition) Describe(ps Problems) {
	for i := range ps {
		r := ps[i].Ref
		if r.Cluster < 0 || r.Cluster >= len(d.Clusters) {
			continue
		}
		ps[i].Subject = d.subject(r)
		if ps[i].Field == "" {
			ps[i].Field = r.Field
		}
	}
}

// subject names the cluster and node a Ref points at.
func (d *Definition) subject(r Ref) string {
	if r.Cluster < 0 || r.Cluster >= len(d.Clusters) {
		return "the file"
	}
	c := d.Clusters[r.Cluster]
	subject := fmt.Sprintf("cluster %q", c.Name)
	if c.Name == "" {
		subject = fmt.Sprintf("cluster #%d", r.Cluster+1)
	}
	if r.Node >= 0 && r.Node < len(c.Nodes) {
		n := c.Nodes[r.Node]
		if n.Name != "" {
			subject += fmt.Sprintf(" node %q", n.Name)
		} else {
			subject += fmt.Sprintf(" node #%d", r.Node+1)
		}
	}
	return subject
}
