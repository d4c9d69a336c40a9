//go:build tools

// Package tools names what docker rke builds for the conformance suite of
// a release, so that go mod tidy pins it in the release's go.mod (v1.NN/):
// the suite (a test binary), the ginkgo CLI that runs it in parallel,
// kubectl, which specs call, and the Go programs of the suite's images.
package tools

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/test/e2e"
	_ "k8s.io/kubernetes/test/images/agnhost"
	_ "k8s.io/kubernetes/test/images/nonewprivs"
	_ "k8s.io/sample-apiserver"
)
