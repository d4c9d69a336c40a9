#!/usr/bin/env bash
# conformance.sh: `make conformance`. Builds the default release's
# conformance suite and images (cached), brings up samples/CLUSTER.go,
# runs the suite's conformance specs on it (every one that may run in
# parallel; FLAGS such as --serial, --smoke or --procs N change that) and
# leaves the JUnit report, the suite's log and summary.json in
# conformance-report/CLUSTER/. The cluster is removed at the end unless
# KEEP=1.
#
#   conformance.sh BINARY CLUSTER [FLAGS...]
set -euo pipefail

bin=$1 cluster=$2
shift 2
report="conformance-report/$cluster"

"$bin" images build --e2e
if "$bin" ls -q | grep -qx "$cluster"; then
  echo "conformance: cluster $cluster exists; remove it first (docker rke rm $cluster): the run needs a fresh one" >&2
  exit 1
fi
mkdir -p "$report"
cleanup() {
  if [ "${KEEP:-}" != 1 ]; then "$bin" rm "$cluster" >/dev/null || true; fi
}
trap cleanup EXIT
"$bin" up --kubeconfig-dir "$report" "samples/$cluster.go"
"$bin" conformance --report-dir "$report" "$@" "$cluster"
