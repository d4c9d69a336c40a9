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
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
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

// evalInProcess is EvalScript in this process, what the evaluating child
// runs: the statement running is kept in pos.
func evalInProcess(ctx context.Context, file string, src []byte, opts Options, pos *atomic.Uint64) (*model.Definition, model.Problems, error) {
	if err := checkText(file, src); err != nil {
		return nil, nil, err
	}
	session, err := evaluate(ctx, file, src, opts, pos)
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
func evaluate(ctx context.Context, file string, src []byte, opts Options, pos *atomic.Uint64) (session *rke.Session, err error) {
	session = rke.NewSessionAt(file, pos)
	// yaegi panics on some programs it cannot compile (a wrong number of
	// values in an assignment, recursive types, ...): an error at the
	// statement being compiled, not a crash.
	defer func() {
		if v := recover(); v != nil {
			msg := plainValue(v)
			at := model.Position{File: file}
			// yaegi's message starts with the position it was compiling.
			if m := posRE.FindStringSubmatch(msg); m != nil {
				at.Line, _ = strconv.Atoi(m[2])
				at.Col, _ = strconv.Atoi(m[3])
				msg = m[4]
			}
			// "CFG post-order panic: nil reflect type": the interpreter's
			// words for a program Go's compiler would refuse.
			if _, detail, ok := strings.Cut(msg, "panic: "); ok {
				msg = detail
			}
			session, err = nil, &Error{Pos: at, Msg: "the script cannot be compiled (not valid Go, or Go the interpreter does not support): " + msg}
		}
	}()
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
	if err := i.Use(sandboxSymbols(session, opts.Output)); err != nil {
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
	if errors.As(err, new(*Error)) {
		return nil, err
	}
	return nil, compileError(file, err)
}

// checkText rejects what is not a Go source text before the parser sees it,
// with a message better than the parser's.
func checkText(file string, src []byte) error {
	switch {
	case len(bytes.TrimSpace(src)) == 0:
		return &Error{Pos: model.Position{File: file, Line: 1}, Msg: "file is empty: a cluster script needs package main and a func main that defines clusters"}
	case len(src) > MaxDefinitionSize:
		return tooBig(file, int64(len(src)))
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
	depth, nodes := 0, 0
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			depth--
			return false
		}
		if bad != nil {
			return false
		}
		depth++
		nodes++
		switch {
		case depth > MaxNesting:
			bad = &Error{Pos: pos(n.Pos()), Msg: fmt.Sprintf("the script nests deeper than %d levels here; compiling it would take too long", MaxNesting)}
			return false
		case nodes > MaxSyntaxNodes:
			bad = &Error{Pos: pos(n.Pos()), Msg: fmt.Sprintf("the script is too large: more than %d syntax elements", MaxSyntaxNodes)}
			return false
		}
		switch n := n.(type) {
		case *ast.Ident:
			// The instrumentation's hook is called by this name: a script
			// that declared it could bypass the recursion guard.
			if strings.HasPrefix(n.Name, reservedPrefix) {
				bad = &Error{Pos: pos(n.Pos()), Msg: fmt.Sprintf("identifier %s: names starting with %s are reserved for docker rke", n.Name, reservedPrefix)}
			}
		case *ast.BasicLit:
			if msg := literalTooLarge(n); msg != "" {
				bad = &Error{Pos: pos(n.Pos()), Msg: msg}
			}
		case *ast.ArrayType:
			if v, ok := literalInt(n.Len); ok && v > MaxArrayLen {
				bad = &Error{Pos: pos(n.Pos()), Msg: fmt.Sprintf("array of %d elements: the limit is %d (use a slice)", v, MaxArrayLen)}
			}
		case *ast.BinaryExpr:
			if n.Op == token.SHL || n.Op == token.SHR {
				if lit, ok := n.Y.(*ast.BasicLit); ok && lit.Kind == token.INT {
					if v, err := strconv.ParseUint(strings.ReplaceAll(lit.Value, "_", ""), 0, 64); err != nil || v > MaxShift {
						bad = &Error{Pos: pos(n.Pos()), Msg: fmt.Sprintf("shift by %s: constants larger than %d bits are refused", lit.Value, MaxShift)}
					}
				}
			}
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

// Caps on a script's syntax, which the compiler's time and memory grow
// with (deeply nested blocks cost it quadratic time). A real cluster
// script is a few hundred elements deep in nothing.
const (
	MaxNesting     = 200
	MaxSyntaxNodes = 200_000
	// MaxShift bounds constant shifts: 1 << 1_000_000 is a megabit
	// number before anything runs.
	MaxShift = 1024
	// Literal sizes: numbers, and strings.
	maxNumberLiteral = 256
	maxStringLiteral = 64 << 10
)

// MaxArrayLen bounds arrays: the interpreter lays one out as it compiles.
const MaxArrayLen = 1 << 20

// literalInt is the value of an integer expression made of literals only
// (1 << 31, 1024 * 1024), as far as it fits 63 bits.
func literalInt(e ast.Expr) (int64, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.INT {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(e.Value, "_", ""), 0, 64)
		return v, err == nil
	case *ast.ParenExpr:
		return literalInt(e.X)
	case *ast.BinaryExpr:
		x, okX := literalInt(e.X)
		y, okY := literalInt(e.Y)
		if !okX || !okY || x < 0 || y < 0 {
			return 0, false
		}
		switch e.Op {
		case token.SHL:
			if y > 62 {
				return math.MaxInt64, true
			}
			return x << y, true
		case token.MUL:
			if x != 0 && y > math.MaxInt64/x {
				return math.MaxInt64, true
			}
			return x * y, true
		case token.ADD:
			return x + y, true
		}
	}
	return 0, false
}

// reservedPrefix is docker rke's own names in a script (the hook of the
// instrumentation).
const reservedPrefix = "__rke"

func literalTooLarge(l *ast.BasicLit) string {
	switch {
	case l.Kind == token.STRING && len(l.Value) > maxStringLiteral:
		return fmt.Sprintf("string literal of %d bytes: the limit is %d", len(l.Value), maxStringLiteral)
	case l.Kind != token.STRING && l.Kind != token.CHAR && len(l.Value) > maxNumberLiteral:
		return fmt.Sprintf("number literal of %d digits: the limit is %d", len(l.Value), maxNumberLiteral)
	}
	return ""
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
	if v, ok := p.Value.(rke.LimitError); ok {
		return &Error{Pos: pos, Msg: v.Msg}
	}
	return &Error{Pos: pos, Msg: "script panicked: " + plainValue(p.Value)}
}

// plainValue renders a panic value without running the script's code: a
// string or number as it is, an error of the Go runtime's or standard
// library's own types by its message, anything else (the script's own
// types, whose Error or String method could loop or recurse once the
// evaluation is over) by its type's name.
func plainValue(v any) string {
	if rv, ok := v.(reflect.Value); ok {
		// How yaegi hands over a script's values: read its kind, never
		// its methods (fmt would call them).
		switch {
		case !rv.IsValid():
			return "nil"
		case rv.Kind() == reflect.String:
			return rv.String()
		case rv.CanInt():
			return strconv.FormatInt(rv.Int(), 10)
		case rv.CanUint():
			return strconv.FormatUint(rv.Uint(), 10)
		case rv.CanFloat():
			return strconv.FormatFloat(rv.Float(), 'g', -1, 64)
		case rv.Kind() == reflect.Bool:
			return strconv.FormatBool(rv.Bool())
		case rv.CanInterface():
			v = rv.Interface()
		default:
			return fmt.Sprintf("a value of type %s", rv.Type())
		}
	}
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case error:
		if t := reflect.TypeOf(v); t != nil && trustedErrorType(t) {
			return v.Error()
		}
	}
	return fmt.Sprintf("a value of type %s", reflect.TypeOf(v))
}

// trustedErrorType says whether an error type's methods are Go's own code
// (the runtime's, the standard library's, yaegi's, the script API's), not
// a script's.
func trustedErrorType(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch pkg := t.PkgPath(); {
	case pkg == "runtime", pkg == "errors", pkg == "fmt", pkg == "strconv", pkg == "time", pkg == "reflect":
		return true
	case pkg == "github.com/traefik/yaegi/interp", strings.HasPrefix(pkg, "github.com/docker-rke/docker-rke/"):
		// Not yaegi/stdlib: its wrappers (_error, ...) call the script's
		// own methods.
		return true
	}
	return false
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
