//go:build unix

package dsl

import (
	"os"
	"syscall"
)

// openNonblocking opens path for reading without waiting for a writer:
// opening a named pipe would otherwise block until someone writes to it,
// before the caller can see what kind of file it is.
func openNonblocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
