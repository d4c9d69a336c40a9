# docker rke. Two commands set up a fresh machine: `make demo` brings up the
# sample cluster, `make test` runs every test. Both start a Docker engine
# first when none answers (scripts/ensure-engine.sh).

SHELL      := /bin/bash
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN        := bin/docker-rke
PLUGIN_DIR ?= $(HOME)/.docker/cli-plugins
# kubectl runs kubectl-rke from the PATH as `kubectl rke`.
KUBECTL_PLUGIN_DIR ?= $(HOME)/.local/bin
GO_TEST    ?= go test
# End-to-end tests start real nodes; give them room but not forever.
E2E_TIMEOUT ?= 75m

export GOFLAGS := -buildvcs=false

.PHONY: all evaluator build install test unit e2e lint generate bench demo engine conformance clean

all: build

# The tool carries the small script evaluator (dsl/evaluator), named by
# its digest; a plain `go build .` works too, evaluating with itself.
evaluator:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o dsl/evaluator.bin ./dsl/evaluator
	sha256sum dsl/evaluator.bin | cut -c1-16 >dsl/evaluator.digest.new && \
	  { cmp -s dsl/evaluator.digest.new dsl/evaluator.digest || mv dsl/evaluator.digest.new dsl/evaluator.digest; } && rm -f dsl/evaluator.digest.new

build: evaluator
	go build -trimpath -tags embedevaluator -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) .

install: build
	install -d $(PLUGIN_DIR) $(KUBECTL_PLUGIN_DIR)
	install -m 0755 $(BIN) $(PLUGIN_DIR)/docker-rke
	ln -sf $(PLUGIN_DIR)/docker-rke $(KUBECTL_PLUGIN_DIR)/kubectl-rke
	@echo "installed $(PLUGIN_DIR)/docker-rke: try 'docker rke --help'"
	@echo "and $(KUBECTL_PLUGIN_DIR)/kubectl-rke (kubectl finds plugins on the PATH): try 'kubectl rke ls'"

# Starts a Docker engine when none answers (installs Debian's docker.io).
engine:
	@scripts/ensure-engine.sh

test: engine lint unit e2e

unit:
	$(GO_TEST) -count=1 -short ./...

# The registry e2e test runs Debian's docker-registry as a lab mirror.
e2e: build
	registry="$$(scripts/registry-binary.sh)" && \
	DOCKER_RKE_BINARY=$(CURDIR)/$(BIN) DOCKER_RKE_REGISTRY_BINARY="$$registry" $(GO_TEST) -count=1 -timeout $(E2E_TIMEOUT) -v ./e2e/

lint: evaluator
	@out="$$(gofmt -l $$(git ls-files '*.go' ':!:testdata/**'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go vet -tags embedevaluator ./dsl/
	go tool staticcheck ./...
	go tool staticcheck -tags embedevaluator ./dsl/
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: apt-get install shellcheck"; exit 1; }
	shellcheck -S warning $$(git ls-files '*.sh' ':!:images/runtime.sh')
	@# runtime.sh runs under the node base image's sh, dash.
	shellcheck -S warning -s dash images/runtime.sh
	@# The interpreter's symbol tables (the script API, the allowed
	@# standard packages) must match the packages and the Go toolchain.
	@tmp="$$(mktemp -d)" && cp dsl/*.go dsl/stdsyms/*.go "$$tmp"/ && go generate ./dsl/ ./dsl/stdsyms/ && \
	  for f in dsl/github_com-docker-rke-docker-rke-dsl-rke.go dsl/stdsyms/*.go; do \
	    if ! cmp -s "$$f" "$$tmp/$${f##*/}"; then echo "symbol table $$f was stale: regenerated, commit it"; rm -rf "$$tmp"; exit 1; fi; \
	  done; rm -rf "$$tmp"

generate:
	go generate ./...

bench: build
	go run -tags embedevaluator ./bench -out bench.json

# The upstream conformance suite on a fresh cluster shaped like
# samples/$(CONFORMANCE_CLUSTER).yml, with a lab registry for the specs
# that pull Always: every [Conformance] spec that may run in parallel, or
# as CONFORMANCE_FLAGS say (--serial, --smoke, --procs N). The report goes
# to conformance-report/$(CONFORMANCE_CLUSTER)/.
CONFORMANCE_CLUSTER ?= cluster2
CONFORMANCE_FLAGS   ?= --procs 8
conformance: engine build
	scripts/conformance.sh $(BIN) $(CONFORMANCE_CLUSTER) $(CONFORMANCE_FLAGS)

demo: engine install
	docker rke images build
	docker rke up samples/cluster1.go
	docker rke ls

clean:
	rm -rf bin bench.json conformance-report
