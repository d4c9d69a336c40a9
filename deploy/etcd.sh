#!/bin/sh
# etcd.sh runs in an etcd node for `docker rke etcd snapshot`
# (deploy/snapshot.go) as sh -c SCRIPT etcd ACTION ARGS...; the etcd
# binaries are the node's own (/opt/docker-rke/bin: etcd is multi-call).
#
#   save PATH CACERT CERT KEY
#       a snapshot of the member on this node (client port 2379 on its
#       loopback, with its own certificate) into PATH, then prints
#       etcdutl's status of it as JSON (hash, revision, totalKey,
#       totalSize).
#   check SNAPSHOT
#       etcdutl's status of a snapshot file as JSON: fails on anything
#       that is not one (before restore stops a thing).
#   restore SNAPSHOT DATA_DIR KEEP_DIR NAME INITIAL_CLUSTER TOKEN PEER_URL
#       the member's data rebuilt from SNAPSHOT as a member of a new
#       cluster (etcdutl snapshot restore, with the member's own flags);
#       the data it had is moved to KEEP_DIR, never deleted. etcd must be
#       stopped.
#   unrestore DATA_DIR KEEP_DIR
#       undoes restore: the data KEEP_DIR kept goes back to DATA_DIR.
set -eu
bin=/opt/docker-rke/bin
action=$1
shift
case "$action" in
save)
  path=$1 cacert=$2 cert=$3 key=$4
  mkdir -p "$(dirname "$path")"
  rm -f "$path"
  # etcdctl logs a lot around a failure: its last lines say why.
  if ! out=$("$bin/etcdctl" --endpoints=https://127.0.0.1:2379 --cacert="$cacert" --cert="$cert" --key="$key" \
    --command-timeout=60s snapshot save "$path" 2>&1); then
    printf '%s\n' "$out" | tail -n 3 >&2
    exit 1
  fi
  "$bin/etcdutl" snapshot status "$path" -w json
  ;;
check)
  if ! out=$("$bin/etcdutl" snapshot status "$1" -w json 2>&1); then
    rm -f "$1"
    printf 'not an etcd snapshot: %s\n' "$(printf '%s\n' "$out" | tail -n 1)" >&2
    exit 1
  fi
  printf '%s\n' "$out"
  ;;
restore)
  snapshot=$1 data=$2 keep=$3 name=$4 initial=$5 token=$6 peer=$7
  new="$data.restoring"
  rm -rf "$new"
  if ! out=$("$bin/etcdutl" snapshot restore "$snapshot" --name="$name" --initial-cluster="$initial" \
    --initial-cluster-token="$token" --initial-advertise-peer-urls="$peer" --data-dir="$new" 2>&1); then
    printf '%s\n' "$out" | tail -n 3 >&2
    rm -rf "$new"
    exit 1
  fi
  if [ -e "$data" ]; then
    mv "$data" "$keep"
  fi
  mv "$new" "$data"
  rm -f "$snapshot"
  ;;
unrestore)
  data=$1 keep=$2
  if [ -d "$keep" ]; then
    rm -rf "$data"
    mv "$keep" "$data"
  fi
  ;;
*)
  echo "etcd.sh: unknown action $action" >&2
  exit 2
  ;;
esac
