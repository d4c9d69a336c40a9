#!/bin/sh
# register.sh runs in a node for `docker rke load` (dind/load.go, as
# sh -c SCRIPT load STAGE CONTENT ID_LABEL PINNED_LABEL) once the node's
# engine has extracted a stage (dind/stage.go): the archive's blobs as
# numbered files, each digest checked by docker rke on the way, with the
# lists and layouts below. It makes images of them in containerd's k8s.io
# namespace:
#
# 1. Each image ID's layout (its manifests and config) is imported, which
#    names its images, labelled with the ID the source gave it and as
#    pinned, so the kubelet never garbage-collects them. From then on
#    containerd's garbage collector counts their layers as wanted the
#    moment each is registered (a blob registered and wanted by nothing
#    would be collected).
# 2. Each layer is hard-linked into containerd's content store (CONTENT,
#    on the same filesystem: /var) under its digest, then registered with
#    `ctr content ingest --expected-digest`: containerd's shared content
#    policy records a blob its store already holds without reading it. A
#    blob that is not there (the link failed, or the garbage collector
#    removed it before it was registered) is read from the stage instead:
#    slower, never wrong.
#
# Images are not unpacked here: the CRI unpacks an image into its
# snapshotter when it first creates a container of it on this node
# (containerd's CRI does so for any image it holds), so a node pays for
# the unpack only if it runs the image, and the load ends once the layers
# are registered.
#
# Whatever happens, the stage goes (a signal ends the script through its
# EXIT trap), and so do the names it gave or was giving if the images'
# layers could not all be registered: a later load would otherwise take
# them for loaded. So do stages older than an hour, left by a load that
# died, with the names an earlier docker rke held for them in a file
# `held`.
stage=$1 content=$2 id_label=$3 pinned_label=$4
named=
release() {
  # The import replaced what these names held before: say they are gone.
  if [ -n "$named" ]; then
    # shellcheck disable=SC2086 # image names have no blanks or patterns
    ctr -n k8s.io images rm $named >/dev/null 2>&1
    echo "the node no longer holds$named (their layers could not all be registered): load them again" >&2
  fi
  rm -rf "$stage"
}
trap release EXIT
trap 'exit 1' HUP INT TERM
find "${stage%/*}" -mindepth 1 -maxdepth 1 ! -name "${stage##*/}" -mmin +60 2>/dev/null | while read -r old; do
  [ -s "$old/held" ] && xargs -r ctr -n k8s.io images rm <"$old/held" >/dev/null 2>&1
  rm -rf "$old"
done
while read -r k id names; do
  named="$named $names"
  ctr -n k8s.io images import --local --all-platforms --no-unpack \
    --label "$id_label=$id" --label "$pinned_label=pinned" - <"$stage/import-$k.tar" >/dev/null || exit
done <"$stage/images"
while read -r n digest _; do
  ln "$stage/$n" "$content/blobs/sha256/${digest#sha256:}" 2>/dev/null
done <"$stage/blobs"
export stage
# shellcheck disable=SC2016 # expanded by the inner sh
xargs -r -P 8 -n 3 sh -c 'exec ctr -n k8s.io content ingest --expected-digest "$1" --expected-size "$2" "docker-rke-load-${stage##*/}-$0" <"$stage/$0"' <"$stage/blobs" || exit
named=
