#!/bin/sh
# courier.sh runs in the courier container of a `docker rke load`
# (dind/courier.go), as sh -c SCRIPT courier VERB ARGS...
#
# courier serve is the courier's main process: it reads commands from its
# input, one per line, "copy FROM STAGE TO...", does each, and ends when
# its input does: the load closes it once the nodes have their images, and
# so does the engine when the load's connection goes (the tool was
# killed: the container's input is StdinOnce). The engine then removes the
# container (AutoRemove).
#
# courier copy FROM STAGE TO...: the engine has extracted the stage
# FROM/lib/STAGE into the first node's /var volume, mounted at FROM
# (/var); it copies the stage into every other node's /var volume, each
# mounted at a TO, all at once (cp copies in the kernel), and prints one
# line per TO, in order: "ok", or why not. A copy that failed is removed.
copy_stage() {
  from=$1 stage=$2
  shift 2
  said=$(mktemp -d) || return
  i=0
  for to; do
    i=$((i + 1))
    (
      if out=$(mkdir -p "$to/lib/${stage%/*}" 2>&1 && cp -a "$from/lib/$stage" "$to/lib/${stage%/*}/" 2>&1); then
        echo ok >"$said/$i"
      else
        rm -rf "${to:?}/lib/$stage"
        printf '%s\n' "$out" | tail -n 3 | tr '\n' ' ' >"$said/$i"
        echo >>"$said/$i"
      fi
    ) &
  done
  wait
  i=0
  for to; do
    i=$((i + 1))
    if [ -s "$said/$i" ]; then head -n 1 "$said/$i"; else echo "the copy ended without a word"; fi
  done
  rm -rf "$said"
}

verb=$1
shift
case $verb in
serve)
  while read -r command args; do
    # shellcheck disable=SC2086 # the arguments are paths without blanks
    case $command in
    copy) copy_stage $args ;;
    *) echo "courier: unknown command $command" ;;
    esac
  done
  ;;
copy) copy_stage "$@" ;;
*)
  echo "courier: unknown verb $verb" >&2
  exit 2
  ;;
esac
