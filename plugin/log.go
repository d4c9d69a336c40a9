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

// Printf prints one progress line. A phase's closing line ("...: done in
// 1.2s") is green where colour is on (fatih/color: a terminal, and NO_COLOR
// unset).
func (l *stepLog) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, ": done in ") {
		msg = color.GreenString(msg)
	}
	if l.spinner {
		fmt.Fprint(l.w, "\r\033[K")
		l.spinner = false
	}
	l.last = time.Now()
	fmt.Fprintf(l.w, "[%5.1fs] %s\n", time.Since(l.start).Seconds(), msg)
}
