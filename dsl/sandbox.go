package dsl

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/docker-rke/docker-rke/dsl/rke"
	"github.com/docker-rke/docker-rke/dsl/stdsyms"
)

// Symbols is filled once, at init, by the generated table of the script API
// (github_com-docker-rke-docker-rke-dsl-rke.go) and only read afterwards.
var Symbols = map[string]map[string]reflect.Value{}

const (
	apiSymbolsKey = "github.com/docker-rke/docker-rke/dsl/rke/rke"
	// apiImport is how scripts import the API: import "rke".
	apiImport = "rke"
)

// allowedStdlib is every standard package a script may import, and for
// each, the symbols it may not use. Nothing outside this list exists for a
// script: no os, os/exec, net, syscall, unsafe, io/ioutil or reflect. Their
// symbol tables are not even in the binary (package stdsyms has these six
// only); a new entry here needs its table generated there too.
var allowedStdlib = map[string][]string{
	// yaegi rebinds fmt's Print* and Scan* to the interpreter's own
	// streams: output goes to Options.Output, never to the command's stdout
	// (plan --format json stays clean), and input is always empty, so a
	// script can never wait for a person.
	"fmt":     nil,
	"strings": nil,
	"strconv": nil,
	"math":    nil,
	"sort":    nil,
	"time":    nil, // filtered by allowedTime instead
}

// allowedTime keeps the time package to formatting and durations. Now,
// Sleep, timers and tickers are out: they would make a plan depend on when
// it was made, and stall evaluation.
var allowedTime = []string{
	"Duration", "Nanosecond", "Microsecond", "Millisecond", "Second", "Minute", "Hour",
	"ParseDuration", "Month", "Weekday", "Time", "Date", "Unix", "UnixMilli", "UnixMicro",
	"Parse", "FixedZone", "Location",
	"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December",
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Layout", "ANSIC", "UnixDate", "RubyDate", "RFC822", "RFC822Z", "RFC850", "RFC1123",
	"RFC1123Z", "RFC3339", "RFC3339Nano", "Kitchen", "Stamp", "StampMilli", "StampMicro",
	"StampNano", "DateTime", "DateOnly", "TimeOnly",
}

// hiddenAPI are exported by package rke for the evaluator, not for scripts.
var hiddenAPI = []string{"NewSession", "NewSessionAt", "PositionOf", "Session", "LimitError", "MaxCallDepth"}

// AllowedImports lists what a script may import, for error messages.
func AllowedImports() []string {
	out := []string{apiImport}
	for p := range allowedStdlib {
		out = append(out, p)
	}
	sort.Strings(out[1:])
	return out
}

func importAllowed(path string) bool {
	if path == apiImport {
		return true
	}
	_, ok := allowedStdlib[path]
	return ok
}

// sandboxSymbols builds the symbol table of one evaluation: the allowed
// standard packages, the script API bound to the session, and the position
// hook that instrumentation calls.
func sandboxSymbols(session *rke.Session, stdout io.Writer) map[string]map[string]reflect.Value {
	syms := map[string]map[string]reflect.Value{}
	for pkg, deny := range allowedStdlib {
		key := pkg + "/" + pkg
		if pkg == "fmt" {
			// yaegi's Use takes a table holding the key "fmt/fmt" for its
			// whole standard library: it then compiles generic slices,
			// maps, cmp, sync and sync/atomic from source into the global
			// scope, usable without an import, which would make the
			// allowlist a lie (and cost each evaluation milliseconds).
			// "./fmt/fmt" names the same package (Use cleans the path)
			// without that meaning; rebindFmt does the one useful part.
			key = "./" + key
		}
		src := stdsyms.Symbols[pkg+"/"+pkg]
		dst := map[string]reflect.Value{}
		for name, v := range src {
			if contains(deny, name) || isVariable(v) {
				continue
			}
			if pkg == "time" && !contains(allowedTime, name) {
				continue
			}
			dst[name] = v
		}
		syms[key] = dst
	}
	rebindFmt(syms["./fmt/fmt"], stdout)
	api := map[string]reflect.Value{}
	for name, v := range Symbols[apiSymbolsKey] {
		if !contains(hiddenAPI, name) {
			api[name] = v
		}
	}
	api["NewCluster"] = reflect.ValueOf(session.NewCluster)
	syms[apiImport+"/"+apiImport] = api
	syms[posImport+"/"+posPackage] = map[string]reflect.Value{
		"At":    reflect.ValueOf(session.At),
		"Enter": reflect.ValueOf(session.Enter),
		"Leave": reflect.ValueOf(session.Leave),
	}
	return syms
}

// rebindFmt points fmt's Print functions at the script's output and its
// Scan functions at an empty input, so a script never writes to the
// command's stdout (plan --format json stays clean) or waits for a person.
func rebindFmt(p map[string]reflect.Value, stdout io.Writer) {
	if stdout == nil {
		stdout = io.Discard
	}
	p["Print"] = reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fprint(stdout, a...) })
	p["Printf"] = reflect.ValueOf(func(format string, a ...any) (int, error) { return fmt.Fprintf(stdout, format, a...) })
	p["Println"] = reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fprintln(stdout, a...) })
	p["Scan"] = reflect.ValueOf(func(a ...any) (int, error) { return 0, io.EOF })
	p["Scanf"] = reflect.ValueOf(func(format string, a ...any) (int, error) { return 0, io.EOF })
	p["Scanln"] = reflect.ValueOf(func(a ...any) (int, error) { return 0, io.EOF })
}

// isVariable reports whether a symbol is a package variable (extracted as an
// addressable value). Scripts get none: assigning to one, say time.UTC or
// strconv.ErrRange, would change the host process itself.
func isVariable(v reflect.Value) bool { return v.CanAddr() }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
