#!/bin/sh
# courier.sh runs in the courier container of a `docker rke load`
# (dind/courier.go) as sh -c SCRIPT courier FROM STAGE TO...: the engine
# has extracted the stage FROM/lib/STAGE into the first node's /var
# volume, mounted at FROM (/var); it copies the stage into every other
# node's /var volume, each mounted at a TO, all at once (cp copies in the
# kernel), and prints one line per TO, in order: "ok", or why not. A copy
# that failed is removed.
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
