package dind

import (
	"bufio"
	"context"
	"io"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/pkg/stdcopy"
)

// attached is a process a load holds by its input and output (a courier,
// a node's part of the load): it is told one command a line and answers
// in lines, and it ends when its input does.
type attached struct {
	conn types.HijackedResponse
	// lines is what it prints, stdout and stderr alike, line by line.
	lines *bufio.Scanner
}

func newAttached(conn types.HijackedResponse) attached {
	return attached{conn: conn, lines: attachedLines(conn.Reader)}
}

// say writes one command line to its input.
func (a attached) say(line string) error {
	_, err := io.WriteString(a.conn.Conn, line+"\n")
	return err
}

// hear reads its lines until last says the answer is whole (given each
// line and how many were read with it), and returns them; whole is false
// when its output ended first. A context that ends is an error; the
// reading then stops when its owner closes it.
func (a attached) hear(ctx context.Context, last func(line string, n int) bool) (lines []string, whole bool, err error) {
	type said struct {
		lines []string
		whole bool
	}
	heard := make(chan said, 1)
	go func() {
		var h said
		for !h.whole && a.lines.Scan() {
			h.lines = append(h.lines, a.lines.Text())
			h.whole = last(a.lines.Text(), len(h.lines))
		}
		heard <- h
	}()
	select {
	case h := <-heard:
		return h.lines, h.whole, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// close closes its input, which ends it, and lets go of its output.
func (a attached) close() error {
	err := a.conn.CloseWrite()
	a.conn.Close()
	return err
}

// maxLine bounds a line read from an attached container or exec: a
// node's image listing puts every label of an image on one line, which
// may pass bufio's default 64 KiB.
const maxLine = 4 << 20

// attachedLines reads the output of an attached container or exec
// without a terminal (stdout and stderr multiplexed) line by line.
func attachedLines(r io.Reader) *bufio.Scanner {
	out, w := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(w, w, r)
		w.CloseWithError(err)
	}()
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, maxLine)
	return sc
}
