// The files here are cluster scripts, run by docker rke's interpreter, not
// programs for the Go toolchain: they import "rke", which only the
// interpreter provides. This file keeps them out of the project's ./...
module samples

go 1.26
