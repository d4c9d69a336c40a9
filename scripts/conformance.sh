#!/usr/bin/env bash
# conformance.sh: `make conformance`. Builds the default release's
# conformance suite and images (cached), brings up a cluster shaped like
# samples/CLUSTER.yml, runs the suite's conformance specs on it (every one
# that may run in parallel; FLAGS such as --serial, --smoke or --procs N
# change that) and leaves the JUnit report, the suite's log and
# summary.json in conformance-report/CLUSTER/. The cluster is removed at
# the end unless KEEP=1.
#
# Some specs pull with imagePullPolicy Always, which needs a registry even
# when the image is in the node: the kubelet asks the registry for the
# manifest first. No registry is reachable here, so the run brings its own
# lab registry, Debian's docker-registry, holding the suite's images, and
# the cluster mirrors Docker Hub (where KUBE_TEST_REPO_LIST points the
# suite: docker-rke/e2e-<release>/...) through it. Two servers share one
# store: one on loopback, which the engine pushes to without TLS, and one on
# the node network's gateway, which the nodes pull from (so the network's
# subnet is fixed: CONFORMANCE_SUBNET, a /24 whose first address is the
# gateway).
#
#   conformance.sh BINARY CLUSTER [FLAGS...]
set -euo pipefail

bin=$1 cluster=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
report="conformance-report/$cluster"
subnet=${CONFORMANCE_SUBNET:-172.31.251.0/24}
# The engine gives a network's gateway the subnet's first address.
gateway="${subnet%.*}.1"

log() { printf 'conformance: %s\n' "$*" >&2; }

"$bin" images build --e2e
if "$bin" ls -q | grep -qx "$cluster"; then
  log "cluster $cluster exists; remove it first (docker rke rm $cluster): the run needs a fresh one"
  exit 1
fi
registry_bin=$("$here/registry-binary.sh")
# The default release, which the sample runs: version lists it first.
release=$("$bin" version --format '{{(index .Releases 0).Kubernetes}}')
repo="docker-rke/e2e-$release"

work=$(mktemp -d)
pids=() pushed=()
cleanup() {
  local rc=$?
  if [ "${KEEP:-}" != 1 ]; then "$bin" rm "$cluster" >/dev/null 2>&1 || true; fi
  if [ ${#pids[@]} -gt 0 ]; then kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; fi
  if [ ${#pushed[@]} -gt 0 ]; then docker image rm "${pushed[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# free_port prints a TCP port nothing on ADDRESS listens on.
free_port() {
  local port
  for _ in $(seq 50); do
    port=$(( 20000 + RANDOM % 20000 ))
    if ! (exec 3<>"/dev/tcp/$1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  log "no free port on $1"; return 1
}

# serve ADDRESS starts a registry server on ADDRESS over the shared store
# and waits (30 s at most) until it answers.
serve() {
  local addr=$1 name=${1//[:.]/-} i
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$work/store" "$addr" >"$work/$name.yml"
  "$registry_bin" serve "$work/$name.yml" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for i in $(seq 300); do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then return; fi
    if [ "$i" = 300 ] || ! kill -0 "${pids[-1]}" 2>/dev/null; then
      log "the registry on $addr did not answer:"; cat "$work/$name.log" >&2; return 1
    fi
    sleep 0.1
  done
}

push_addr="127.0.0.1:$(free_port 127.0.0.1)"
serve "$push_addr"
log "pushing the suite's images ($repo/*) to the lab registry"
while read -r image; do
  docker tag "$image" "$push_addr/$image"
  pushed+=("$push_addr/$image")
  docker push -q "$push_addr/$image" >/dev/null
done < <(docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo/*")

# The cluster: the sample's nodes, and docker rke's own settings for the
# mirror (a cluster.yml stays RKE's with them: RKE ignores docker_rke).
# The file's name names the cluster.
mkdir -p "$report"
mirror_port=$(free_port 127.0.0.1)
definition="$work/$cluster.yml"
{
  cat "samples/$cluster.yml"
  printf '\ndocker_rke:\n  subnet: %s\n  registry_mirrors:\n    - url: http://%s:%s\n' "$subnet" "$gateway" "$mirror_port"
} >"$definition"
"$bin" up --kubeconfig-dir "$report" "$definition"
# A gateway that is not the subnet's first address is not the host's: the
# server cannot listen there, and serve says so with the registry's error.
serve "$gateway:$mirror_port"
"$bin" conformance --report-dir "$report" "$@" "$cluster"
