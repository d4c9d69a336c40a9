// Package dsl turns a cluster definition file into the cluster model: Go
// cluster scripts evaluated in a sandboxed yaegi interpreter, and RKE
// cluster.yml files (package rkeyaml). LoadFile picks by extension.
package dsl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/traefik/yaegi/interp"

	"github.com/docker-rke/docker-rke/dsl/rke"
	"github.com/docker-rke/docker-rke/model"
)

// DefaultTimeout bounds a script's evaluation. Defining even a thousand
// nodes takes milliseconds; anything near this is a runaway loop.
const DefaultTimeout = 5 * time.Second

// Options tunes evaluation.
type Options struct {
	// Timeout bounds evaluation; zero means DefaultTimeout.
	Timeout time.Duration
	// Output receives what the script prints. Nil discards it.
	Output io.Writer
}

// Error is a script error at a position: a syntax or type error, a
// forbidden import, a panic, a limit or a timeout.
type Error struct {
	Pos model.Position
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// EvalScript evaluates a cluster script and returns its validated
// definition, with defaults applied, and any warnings. file is the path used
// in messages.
func EvalScript(ctx context.Context, file string, src []byte, opts Options) (*model.Definition, model.Problems, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	if err := checkText(file, src); err != nil {
		return nil, nil, err
	}
	session, err := evaluate(ctx, file, src, opts)
	if err != nil {
		return nil, nil, err
	}
	def := session.Definition()
	problems := def.Check()
	for i := range problems {
		problems[i].Pos = session.PositionOf(problems[i].Ref)
	}
	sortedProblems(problems)
	if err := problems.Err(); err != nil {
		return nil, problems.Warnings(), err
	}
	return def, problems, nil
}

// evaluate runs the script in a fresh sandboxed interpreter and returns the
// session holding what it defined.
func evaluate(ctx context.Context, file string, src []byte, opts Options) (*rke.Session, error) {
	session := rke.NewSession(file)
	var panics bytes.Buffer
	i := interp.New(interp.Options{
		GoPath:               "/nonexistent",
		SourcecodeFilesystem: fstest.MapFS{},
		Stdin:                strings.NewReader(""),
		Stdout:               opts.Output,
		Stderr:               &limitedBuffer{buf: &panics, max: 64 << 10},
		Args:                 []string{file},
		Env:                  []string{},
	})
	if err := i.Use(sandboxSymbols(session)); err != nil {
		return nil, fmt.Errorf("%s: setting up the script sandbox: %w", file, err)
	}
	f, err := parser.ParseFile(i.FileSet(), file, src, parser.AllErrors|parser.SkipObjectResolution)
	if err != nil {
		return nil, syntaxError(file, err)
	}
	if err := checkAST(i.FileSet(), file, f); err != nil {
		return nil, err
	}
	instrument(i.FileSet(), f)
	prog, err := i.CompileAST(f)
	if err != nil {
		return nil, compileError(file, err)
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	_, err = i.ExecuteWithContext(ctx, prog)
	switch {
	case err == nil:
		return session, nil
	case errors.Is(err, context.DeadlineExceeded):
		return nil, &Error{Pos: session.Position(), Msg: fmt.Sprintf("script did not finish within %s (an endless loop?); it was running this statement", opts.Timeout)}
	case errors.Is(err, context.Canceled):
		return nil, fmt.Errorf("%s: evaluation cancelled: %w", file, err)
	}
	var p interp.Panic
	if errors.As(err, &p) {
		return nil, panicError(session.Position(), p)
	}
	return nil, compileError(file, err)
}

// checkText rejects what is not a Go source text before the parser sees it,
// with a message better than the parser's.
func checkText(file string, src []byte) error {
	const maxSize = 1 << 20
	switch {
	case len(bytes.TrimSpace(src)) == 0:
		return &Error{Pos: model.Position{File: file, Line: 1}, Msg: "file is empty: a cluster script needs package main and a func main that defines clusters"}
	case len(src) > maxSize:
		return &Error{Pos: model.Position{File: file}, Msg: fmt.Sprintf("file is %d bytes; the limit for a cluster definition is %d", len(src), maxSize)}
	}
	return checkBinary(file, src)
}

// checkBinary rejects a file that is not text.
func checkBinary(file string, src []byte) error {
	if at, bad := firstBinary(src); bad {
		line := 1 + bytes.Count(src[:at], []byte("\n"))
		col := at - bytes.LastIndexByte(src[:at], '\n')
		return &Error{Pos: model.Position{File: file, Line: line, Col: col}, Msg: "not a text file (binary data); want a Go cluster script or a cluster.yml"}
	}
	return nil
}

// firstBinary returns the offset of the first NUL byte or invalid UTF-8.
func firstBinary(src []byte) (int, bool) {
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return i, true
	}
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 {
			return i, true
		}
		i += size
	}
	return 0, false
}

// checkAST enforces what the interpreter cannot: only allowlisted imports,
// no goroutines (one could outlive the evaluation's deadline), and the
// package main / func main shape.
func checkAST(fset *token.FileSet, file string, f *ast.File) error {
	pos := func(p token.Pos) model.Position {
		pp := fset.Position(p)
		return model.Position{File: file, Line: pp.Line, Col: pp.Column}
	}
	if f.Name.Name != "main" {
		return &Error{Pos: pos(f.Name.Pos()), Msg: fmt.Sprintf("package %s: a cluster script must be package main", f.Name.Name)}
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if !importAllowed(path) {
			return &Error{Pos: pos(imp.Path.Pos()), Msg: fmt.Sprintf("import %q is not allowed: cluster scripts run in a sandbox and may import only %s", path, quoteList(AllowedImports()))}
		}
	}
	hasMain := false
	var bad *Error
	ast.Inspect(f, func(n ast.Node) bool {
		if bad != nil {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Recv == nil && n.Name.Name == "main" {
				hasMain = true
			}
		case *ast.GoStmt:
			bad = &Error{Pos: pos(n.Pos()), Msg: "go statements are not allowed in cluster scripts"}
		case *ast.SelectStmt:
			bad = &Error{Pos: pos(n.Pos()), Msg: "select statements are not allowed in cluster scripts"}
		}
		return true
	})
	if bad != nil {
		return bad
	}
	if !hasMain {
		return &Error{Pos: pos(f.Name.Pos()), Msg: "no func main: a cluster script defines its clusters in func main"}
	}
	return nil
}

func syntaxError(file string, err error) error {
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		list.Sort()
		msgs := make([]string, 0, len(list))
		for i, e := range list {
			if i == 10 {
				msgs = append(msgs, fmt.Sprintf("(and %d more errors)", len(list)-10))
				break
			}
			msgs = append(msgs, (&Error{Pos: model.Position{File: file, Line: e.Pos.Line, Col: e.Pos.Column}, Msg: "syntax error: " + e.Msg}).Error())
		}
		return &Error{Pos: model.Position{File: file, Line: list[0].Pos.Line, Col: list[0].Pos.Column}, Msg: strings.TrimPrefix(strings.Join(msgs, "\n"), fmt.Sprintf("%s:%d:%d: ", file, list[0].Pos.Line, list[0].Pos.Column))}
	}
	return &Error{Pos: model.Position{File: file}, Msg: err.Error()}
}

var posRE = regexp.MustCompile(`^(.*?):(\d+):(\d+): (.*)$`)

// compileError turns yaegi's "file:line:col: msg" into an Error.
func compileError(file string, err error) error {
	msg := strings.TrimSpace(err.Error())
	first, _, _ := strings.Cut(msg, "\n")
	if m := posRE.FindStringSubmatch(first); m != nil {
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		return &Error{Pos: model.Position{File: file, Line: line, Col: col}, Msg: m[4]}
	}
	return &Error{Pos: model.Position{File: file}, Msg: msg}
}

// panicError reports a panic at the statement that was running. (yaegi's
// own panic report names the entry of the panicking function, not the
// statement, so the instrumentation's position is the better one.)
func panicError(pos model.Position, p interp.Panic) error {
	switch v := p.Value.(type) {
	case rke.LimitError:
		return &Error{Pos: pos, Msg: v.Msg}
	case error:
		return &Error{Pos: pos, Msg: "script panicked: " + v.Error()}
	default:
		return &Error{Pos: pos, Msg: fmt.Sprintf("script panicked: %v", v)}
	}
}

// limitedBuffer keeps at most max bytes, so a script that panics in a deep
// recursion cannot fill memory with the interpreter's report.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}

// sortedProblems orders problems by position for stable output.
func sortedProblems(ps model.Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Pos.Line != ps[j].Pos.Line {
			return ps[i].Pos.Line < ps[j].Pos.Line
		}
		return ps[i].Pos.Col < ps[j].Pos.Col
	})
}
