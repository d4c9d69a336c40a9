package dsl

// A script is evaluated in a child process (the small evaluator of
// dsl/evaluator the binary carries, else the binary itself), where what
// it may cost is bounded by the kernel, not by the script's good will: its
// memory (RLIMIT_DATA: a runaway allocation kills the child, never the
// tool), its stack, and one deadline over parsing, checking, compiling and
// running. A panic while compiling, a loop in the script's own Error
// method, anything: the tool waits for the child's answer or its end, and
// says where the script was, from the position the child keeps in memory
// shared with the tool (a page of a temporary file). Ctrl-C kills the
// child at once.
//
// A binary that evaluates scripts must call RunChildIfAsked first thing in
// main (tests: in TestMain).

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/docker-rke/docker-rke/dsl/rke"
	"github.com/docker-rke/docker-rke/model"
)

// Bounds of a script's evaluation.
const (
	// MemoryLimit is the most memory the evaluating process may hold:
	// the tool's own code (about 50 MiB) and what the script allocates.
	MemoryLimit = 256 << 20
	// StackLimit bounds the evaluator's stack (deep recursion the depth
	// guard does not see, say in yaegi's own compiler).
	StackLimit = 64 << 20
	// OutputLimit is the most a script may print; the rest is cut.
	OutputLimit = 1 << 20
)

// childEnv marks a process started to evaluate one script.
const childEnv = "DOCKER_RKE_SCRIPT_CHILD"

// The child's extra files: the shared position page, the script's output
// and, when it runs the evaluator carried in the binary, that program.
const (
	positionFD  = 3
	outputFD    = 4
	evaluatorFD = 5
)

// RunChildIfAsked evaluates the script of the request on standard input
// and exits, when this process was started by EvalScript to do so;
// otherwise it returns at once.
func RunChildIfAsked() {
	if os.Getenv(childEnv) == "" {
		return
	}
	os.Exit(runChild(os.Stdin, os.Stdout))
}

type childRequest struct {
	File   string
	Source []byte
	// Deadline is when the evaluation must be done; the child reports
	// its own time-out a little before, with the statement it was on.
	Deadline time.Time
	Timeout  time.Duration
}

type childResult struct {
	Definition *model.Definition `json:",omitempty"`
	// Problems are the warnings of a valid definition, or every problem
	// of an invalid one.
	Problems model.Problems `json:",omitempty"`
	Invalid  bool           `json:",omitempty"`
	Error    *Error         `json:",omitempty"`
	// Failure is any other error, as text.
	Failure string `json:",omitempty"`
}

func runChild(in io.Reader, out io.Writer) int {
	limitMemory(MemoryLimit)
	debug.SetMaxStack(StackLimit)
	// The process lives for one script: collecting garbage before it
	// nears its bound is work thrown away with the process. The soft
	// limit keeps the collector running where it would help, below the
	// kernel's hard one.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(MemoryLimit / 2)
	var req childRequest
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "script evaluator: reading the request:", err)
		return 2
	}
	pos := sharedPosition(os.NewFile(positionFD, "position"))
	output := io.Writer(io.Discard)
	if f := os.NewFile(outputFD, "output"); f != nil {
		output = f
	}
	ctx, cancel := context.WithDeadline(context.Background(), req.Deadline)
	defer cancel()
	def, problems, err := evalInProcess(ctx, req.File, req.Source, Options{Timeout: req.Timeout, Output: output}, pos)
	res := childResult{Definition: def, Problems: problems}
	var scriptErr *Error
	var invalid *model.InvalidError
	switch {
	case errors.As(err, &scriptErr):
		res = childResult{Error: scriptErr}
	case errors.As(err, &invalid):
		res = childResult{Problems: append(invalid.Problems, problems...), Invalid: true}
	case err != nil:
		res = childResult{Failure: err.Error()}
	}
	if err := json.NewEncoder(out).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "script evaluator: writing the result:", err)
		return 2
	}
	return 0
}

// EvalScript evaluates a cluster script and returns its validated
// definition, with defaults applied, and any warnings. file is the path used
// in messages. The script runs in a child process (see the top of this
// file).
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
	posFile, err := os.CreateTemp("", "docker-rke-script-*")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	defer os.Remove(posFile.Name())
	defer posFile.Close()
	if err := posFile.Truncate(8); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	defer outR.Close()

	deadline := time.Now().Add(opts.Timeout)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	// The child reports its own time-out just before, at the statement
	// it was running; the kill is for what it cannot report (a compile
	// that takes too long, an Error method that never returns).
	req, err := json.Marshal(childRequest{File: file, Source: src, Deadline: deadline.Add(-100 * time.Millisecond), Timeout: opts.Timeout})
	if err != nil {
		return nil, nil, err
	}
	cmd, evaluator, err := evaluatorCommand(runCtx)
	if err != nil {
		outW.Close()
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	if evaluator != nil {
		defer evaluator.Close()
	}
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = bytes.NewReader(req)
	var stdout bytes.Buffer
	stderr := &limitedBuffer{buf: &bytes.Buffer{}, max: 64 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.ExtraFiles = []*os.File{posFile, outW}
	if evaluator != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, evaluator) // evaluatorFD
	}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		outW.Close()
		return nil, nil, fmt.Errorf("%s: starting the script evaluator: %w", file, err)
	}
	outW.Close()
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		relayOutput(opts.Output, outR, OutputLimit)
	}()
	waitErr := cmd.Wait()
	<-relayed
	at := lastPosition(file, posFile)
	switch {
	case ctx.Err() != nil:
		return nil, nil, fmt.Errorf("%s: evaluation cancelled: %w", file, ctx.Err())
	case runCtx.Err() != nil:
		return nil, nil, &Error{Pos: at, Msg: timeoutMessage(opts.Timeout, at)}
	case waitErr != nil:
		return nil, nil, &Error{Pos: at, Msg: crashMessage(stderr.buf.String(), at)}
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, nil, fmt.Errorf("%s: reading the script evaluator's answer: %w", file, err)
	}
	switch {
	case res.Error != nil:
		return nil, nil, res.Error
	case res.Failure != "":
		return nil, nil, errors.New(res.Failure)
	case res.Invalid:
		return nil, res.Problems.Warnings(), res.Problems.Err()
	}
	return res.Definition, res.Problems, nil
}

// evaluatorCommand is the program that evaluates a script: the small
// evaluator this binary carries (see dsl/evaluator), with the file it runs
// from; else this binary itself, whose main calls RunChildIfAsked.
func evaluatorCommand(ctx context.Context) (*exec.Cmd, *os.File, error) {
	if cmd, f, err := embeddedEvaluator(ctx); cmd != nil || err != nil {
		return cmd, f, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("finding the script evaluator: %w", err)
	}
	return exec.CommandContext(ctx, exe), nil, nil
}

func timeoutMessage(d time.Duration, at model.Position) string {
	if at.Line == 0 {
		return fmt.Sprintf("script did not finish within %s: it was still being compiled (too large or too deeply nested?)", d)
	}
	return fmt.Sprintf("script did not finish within %s (an endless loop?); it was running this statement", d)
}

// crashMessage says why the evaluating process ended, from what the Go
// runtime printed as it died.
func crashMessage(stderr string, at model.Position) string {
	where := "; it was running this statement"
	if at.Line == 0 {
		where = "; it was being compiled"
	}
	switch {
	case strings.Contains(stderr, "out of memory"), strings.Contains(stderr, "cannot allocate memory"),
		// The only limit on the process is its memory (RLIMIT_DATA, which
		// counts thread stacks): a thread it cannot create (EAGAIN, with
		// cgo or without) is memory it did not get.
		strings.Contains(stderr, "pthread_create failed: Resource temporarily unavailable"),
		strings.Contains(stderr, "failed to create new OS thread"):
		return fmt.Sprintf("the script used more than %d MiB of memory%s", MemoryLimit>>20, where)
	case strings.Contains(stderr, "stack exceeds"):
		return fmt.Sprintf("the script's calls nested too deep (its stack grew past %d MiB)%s", StackLimit>>20, where)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
	if first == "" {
		first = "no message"
	}
	return fmt.Sprintf("evaluating the script failed (%s)%s", escape(first), where)
}

// sharedPosition is the position word of the page the tool shares with
// the evaluating process; without it (a platform without shared maps),
// one of the process's own.
func sharedPosition(f *os.File) *atomic.Uint64 {
	if f == nil {
		return new(atomic.Uint64)
	}
	if p := mapPosition(f); p != nil {
		return p
	}
	return new(atomic.Uint64)
}

// lastPosition reads the position the evaluating process kept last.
func lastPosition(file string, f *os.File) model.Position {
	var b [8]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return model.Position{File: file}
	}
	return rke.PositionOf(file, binary.NativeEndian.Uint64(b[:]))
}

// relayOutput copies what a script prints, at most limit bytes, with
// control characters (terminal escape sequences among them) shown escaped,
// and says so when it cut the rest, which it reads and drops.
func relayOutput(w io.Writer, r io.Reader, limit int) {
	buf := make([]byte, 32<<10)
	written := 0
	cut := false
	for {
		n, err := r.Read(buf)
		if n > 0 && !cut {
			chunk := buf[:n]
			if written+n > limit {
				chunk = chunk[:limit-written]
				cut = true
			}
			written += len(chunk)
			_, _ = io.WriteString(w, escape(string(chunk)))
			if cut {
				fmt.Fprintf(w, "\n[docker rke: the script printed more than %d KiB; the rest is cut]\n", limit>>10)
			}
		}
		if err != nil {
			return
		}
	}
}

// escape shows control characters but newline and tab as Go escapes.
func escape(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r == '\n' || r == '\t' || !unicode.IsControl(r):
			b.WriteString(s[:size])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		s = s[size:]
	}
	return b.String()
}
