//go:build !linux

package dsl

import (
	"os"
	"sync/atomic"
)

// limitMemory: only Linux bounds a process's data this way; elsewhere the
// deadline still holds.
func limitMemory(uint64) {}

// mapPosition: positions are shared on Linux only; elsewhere a time-out or
// crash is reported without the statement.
func mapPosition(*os.File) *atomic.Uint64 { return nil }
