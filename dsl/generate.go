package dsl

// The symbol table of the script API package is generated, never written by
// hand, so that it always matches the package's exported API.
//go:generate go tool yaegi extract -name dsl github.com/docker-rke/docker-rke/dsl/rke
