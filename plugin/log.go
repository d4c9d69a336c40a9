package plugin

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

// stepLog prints progress lines with the time since the command started.
// Node work runs in parallel, so writes are serialised. On a terminal a
// spinner line under the last step shows that work goes on and for how
// long; elsewhere (CI, pipes, files) output is plain lines only.
type stepLog struct {
	mu      sync.Mutex
	w       io.Writer
	start   time.Time
	tty     bool
	last    time.Time
	spinner bool
	stop    chan struct{}
	done    sync.WaitGroup
}

func newStepLog(w io.Writer) *stepLog {
	return &stepLog{w: w, start: time.Now(), last: time.Now()}
}

// Spin starts the spinner when the log goes to a terminal, for commands
// that work for a while (up, images build), and returns what stops it.
func (l *stepLog) Spin() (stop func()) {
	f, ok := l.w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) || os.Getenv("TERM") == "dumb" {
		return func() {}
	}
	l.tty = true
	l.stop = make(chan struct{})
	l.done.Add(1)
	go l.spin()
	return l.Close
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (l *stepLog) spin() {
	defer l.done.Done()
	t := time.NewTicker(120 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		fmt.Fprintf(l.w, "\r\033[K%s working (%.1fs)", spinnerFrames[i%len(spinnerFrames)], time.Since(l.last).Seconds())
		l.spinner = true
		l.mu.Unlock()
	}
}

// Close stops the spinner and clears its line.
func (l *stepLog) Close() {
	if !l.tty {
		return
	}
	close(l.stop)
	l.done.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spinner {
		fmt.Fprint(l.w, "\r\033[K")
		l.spinner = false
	}
}

// Clear removes the spinner line, before something else writes to the
// terminal (the command's own output on stdout).
func (l *stepLog) Clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spinner {
		fmt.Fprint(l.w, "\r\033[K")
		l.spinner = false
	}
}

// colorOn says whether w takes colour: a terminal, with NO_COLOR unset and
// TERM not dumb. It is decided for each stream: fatih/color's own switch
// looks at stdout only, so stdout on a terminal put escape codes into
// 2>err.log.
func colorOn(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) &&
		os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// paint is a colour for w, on exactly where w takes it.
func paint(w io.Writer, attrs ...color.Attribute) *color.Color {
	c := color.New(attrs...)
	if colorOn(w) {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c
}

// Printf prints one progress line. A phase's closing line ("...: done in
// 1.2s") is green where the log's stream takes colour (colorOn).
func (l *stepLog) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, ": done in ") {
		msg = paint(l.w, color.FgGreen).Sprint(msg)
	}
	if l.spinner {
		fmt.Fprint(l.w, "\r\033[K")
		l.spinner = false
	}
	l.last = time.Now()
	fmt.Fprintf(l.w, "[%5.1fs] %s\n", time.Since(l.start).Seconds(), msg)
}
