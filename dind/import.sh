#!/bin/sh
# import.sh runs in a node for `docker rke load` (dind/load.go, as
# sh -c SCRIPT load ID_LABEL PINNED_LABEL NAME ID [NAME ID]...): it imports
# a docker save archive from stdin into containerd's k8s.io namespace, then
# labels each image with its engine ID and as pinned, so the kubelet never
# garbage-collects it.
#
# It unpacks into the snapshotter the CRI uses, read from containerd's
# config: overlayfs, or native where the node's /var could not take
# overlay (the entrypoint then writes its own config to /run). --local
# imports in ctr itself rather than through containerd 2's transfer
# service: half the time for the same result. It drains its input whatever
# happens, so that the exec's stream ends cleanly and a failure reports
# ctr's own message.
id_label=$1 pinned_label=$2
shift 2
cfg=/etc/containerd/config.toml
[ -e /run/containerd-config.toml ] && cfg=/run/containerd-config.toml
snapshotter=$(sed -n 's/^[[:space:]]*snapshotter = "\([^"]*\)".*/\1/p' "$cfg" | head -n 1)
ctr -n k8s.io images import --local --all-platforms --snapshotter "${snapshotter:-overlayfs}" - || {
  rc=$?
  cat >/dev/null
  exit "$rc"
}
cat >/dev/null
while [ "$#" -ge 2 ]; do
  ctr -n k8s.io images label "$1" "$id_label=$2" "$pinned_label=pinned" >/dev/null || exit
  shift 2
done
