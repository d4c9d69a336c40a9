#!/bin/sh
# register.sh is a node's part of a `docker rke load` (dind/session.go),
# one exec for the whole load, as
#
#   sh -c SCRIPT load STAGES CONTENT ID_LABEL PINNED_LABEL
#
# 1. It says which images the node holds: `ctr images ls` with the label
#    that names the ID each was loaded as, then "docker-rke: listed STATUS"
#    (ctr's exit status).
# 2. It removes the stages (under STAGES) older than an hour, left by a
#    load that died, with the names an earlier docker rke held for them in
#    a file `held`.
# 3. It registers each stage its input names, one "register STAGE" per
#    line, and answers each with what went wrong, if anything, and then
#    "docker-rke: registered STATUS". It ends when its input does: the load
#    closes it once every node has its images, and so does the engine when
#    the load's connection goes.
#
# One exec instead of one to ask and one to register: the load starts it
# before the images are streamed, so that when a node has its stage it
# only registers it (an exec costs a runc exec and four API calls, 0.05 s
# of a busy 2-core machine, on every node at the end of every load).
#
# A stage (dind/stage.go) holds the archive's blobs as numbered files,
# each digest checked by docker rke on the way, with the lists and layouts
# below. Registering makes images of them in containerd's k8s.io
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
# Whatever happens, the stage goes (a signal ends the registering through
# its EXIT trap), and so do the names it gave or was giving if the images'
# layers could not all be registered: a later load would otherwise take
# them for loaded.
stages=$1 content=$2 id_label=$3 pinned_label=$4

register() {
  stage=$1 named=
  release() {
    # The import replaced what these names held before: say they are gone.
    if [ -n "$named" ]; then
      # shellcheck disable=SC2086 # image names have no blanks or patterns
      ctr -n k8s.io images rm $named >/dev/null 2>&1
      echo "the node no longer holds$named (their layers could not all be registered): load them again"
    fi
    rm -rf "$stage"
  }
  trap release EXIT
  trap 'exit 1' HUP INT TERM
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
}

ctr -n k8s.io images ls "labels.\"$id_label\"" </dev/null 2>&1
echo "docker-rke: listed $?"
find "$stages" -mindepth 1 -maxdepth 1 -mmin +60 2>/dev/null | while read -r old; do
  [ -s "$old/held" ] && xargs -r ctr -n k8s.io images rm <"$old/held" >/dev/null 2>&1
  rm -rf "$old"
done
while read -r command stage; do
  case $command in
  register)
    # A subshell: its traps and exit are the stage's own. What it says
    # goes to the load, and so does ctr's complaint.
    (register "$stage") </dev/null 2>&1
    echo "docker-rke: registered $?"
    ;;
  *) echo "docker-rke: unknown command $command" ;;
  esac
done
