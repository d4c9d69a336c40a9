package plugin

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
)

// stepLog prints progress lines with the time since the command started.
// Node work runs in parallel, so writes are serialised.
type stepLog struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func newStepLog(w io.Writer) *stepLog { return &stepLog{w: w, start: time.Now()} }

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
	fmt.Fprintf(l.w, "[%5.1fs] %s\n", time.Since(l.start).Seconds(), msg)
}
