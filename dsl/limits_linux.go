package dsl

import (
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// limitMemory bounds the process's data (its heap and stacks: Go's
// reserved but unused address space does not count), so that a script's
// runaway allocation fails in the evaluating process.
func limitMemory(bytes uint64) {
	_ = syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: bytes, Max: bytes})
}

// mapPosition maps the position page shared with the tool.
func mapPosition(f *os.File) *atomic.Uint64 {
	mem, err := syscall.Mmap(int(f.Fd()), 0, 8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	// Page aligned, so aligned for atomics; mapped for the process's life.
	return (*atomic.Uint64)(unsafe.Pointer(&mem[0]))
}
