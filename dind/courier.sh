#!/bin/sh
# courier.sh runs in the courier container of a `docker rke load`
# (dind/courier.go), as sh -c SCRIPT courier VERB ARGS...
#
# courier wait LIFE is the courier's main process: it waits LIFE seconds,
# or until the load sends it SIGTERM once the nodes have their images (the
# engine then removes the container: it is AutoRemove). The trap is why
# sh and not sleep is the main process: a container's first process
# ignores a signal it has no handler for, and SIGKILL would make the
# engine wait for the container to exit before it answers.
#
# courier copy FROM STAGE TO...: the engine has extracted the stage
# FROM/lib/STAGE into the first node's /var volume, mounted at FROM
# (/var); it copies the stage into every other node's /var volume, each
# mounted at a TO, all at once (cp copies in the kernel), and prints one
# line per TO, in order: "ok", or why not. A copy that failed is removed.
verb=$1
shift
case $verb in
wait)
  trap 'exit 0' TERM
  sleep "$1" &
  wait
  exit 0
  ;;
copy) ;;
*)
  echo "courier: unknown verb $verb" >&2
  exit 2
  ;;
esac
from=$1 stage=$2
shift 2
said=$(mktemp -d) || exit
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
