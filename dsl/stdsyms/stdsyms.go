// Package stdsyms holds the interpreter's symbol tables of the only
// standard packages a script may import (dsl's allowlist), generated from
// the Go toolchain that builds the tool. yaegi's own stdlib package
// carries every standard package, os, net and os/exec among them: linking
// it would put them one map key away from a script, and costs the
// evaluating process milliseconds of start-up to build tables nothing
// reads.
package stdsyms

import "reflect"

// Symbols is filled once, at init, by the generated tables and only read
// afterwards.
var Symbols = map[string]map[string]reflect.Value{}

//go:generate go tool yaegi extract -name stdsyms fmt strings strconv math sort time
