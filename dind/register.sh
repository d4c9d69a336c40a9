#!/bin/sh
# register.sh runs in a node for `docker rke load` (dind/load.go, as
# sh -c SCRIPT load STAGE CONTENT ID_LABEL PINNED_LABEL) once the node's
# engine has extracted a stage (dind/stage.go): the archive's blobs as
# numbered files, each digest checked by docker rke on the way, with the
# lists and layouts below. It makes images of them in containerd's k8s.io
# namespace:
#
# 1. hold.tar names every image's manifest after the stage, unpacked:
#    from then on containerd's garbage collector counts the config and
#    layers as wanted the moment they are registered (a blob registered by
#    `ctr content ingest` and wanted by nothing would be collected).
# 2. Each blob is hard-linked into containerd's content store (CONTENT, on
#    the same filesystem: /var) under its digest, then registered with
#    `ctr content ingest --expected-digest`: containerd's shared content
#    policy records a blob its store already holds without reading it. A
#    blob that is not there (the link failed, or the garbage collector
#    removed it before it was registered) is read from the stage instead:
#    slower, never wrong.
# 3. Each image ID's layout is imported, which names its images and
#    unpacks them into the snapshotter the CRI uses, labelled with the ID
#    the source gave it and as pinned, so the kubelet never
#    garbage-collects it.
#
# Whatever happens, the held names and the stage go (a signal ends the
# script through its EXIT trap); so do stages older than an hour, left by
# a load that died, and the names held for stages that are gone.
stage=$1 content=$2 id_label=$3 pinned_label=$4
release() {
  [ -s "$stage/held" ] && xargs -r ctr -n k8s.io images rm <"$stage/held" >/dev/null 2>&1
  rm -rf "$stage"
}
trap release EXIT
trap 'exit 1' HUP INT TERM
parent=${stage%/*}
find "$parent" -mindepth 1 -maxdepth 1 ! -name "${stage##*/}" -mmin +60 -exec rm -rf {} + 2>/dev/null
ctr -n k8s.io images ls -q 2>/dev/null | while read -r name; do
  case $name in
  docker-rke-load-*-*)
    id=${name#docker-rke-load-}
    [ -d "$parent/${id%-*}" ] || ctr -n k8s.io images rm "$name" >/dev/null 2>&1
    ;;
  esac
done
cfg=/etc/containerd/config.toml
[ -e /run/containerd-config.toml ] && cfg=/run/containerd-config.toml
snapshotter=$(sed -n 's/^[[:space:]]*snapshotter = "\([^"]*\)".*/\1/p' "$cfg" 2>/dev/null | head -n 1)
ctr -n k8s.io images import --local --all-platforms --no-unpack - <"$stage/hold.tar" >/dev/null || exit
while read -r n digest _; do
  ln "$stage/$n" "$content/blobs/sha256/${digest#sha256:}" 2>/dev/null
done <"$stage/blobs"
export stage
# shellcheck disable=SC2016 # expanded by the inner sh
xargs -r -P 8 -n 3 sh -c 'exec ctr -n k8s.io content ingest --expected-digest "$1" --expected-size "$2" "docker-rke-load-${stage##*/}-$0" <"$stage/$0"' <"$stage/blobs" || exit
while read -r k id; do
  ctr -n k8s.io images import --local --all-platforms --snapshotter "${snapshotter:-overlayfs}" \
    --label "$id_label=$id" --label "$pinned_label=pinned" - <"$stage/import-$k.tar" >/dev/null || exit
done <"$stage/images"
