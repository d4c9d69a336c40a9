package plugin

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// stepLog prints progress lines with the time since the command started.
// Node work runs in parallel, so writes are serialised.
type stepLog struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func newStepLog(w io.Writer) *stepLog { return &stepLog{w: w, start: time.Now()} }

func (l *stepLog) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%5.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}
