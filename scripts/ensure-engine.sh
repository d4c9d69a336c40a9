#!/usr/bin/env bash
# ensure-engine.sh: make sure a Docker engine answers on /var/run/docker.sock.
# Idempotent: does nothing when `docker info` already works.
# Installs Debian's docker.io (+ iptables) if dockerd is missing, starts dockerd in the
# background (log: /var/log/dockerd.log) and waits, with a deadline, for `docker version`.
set -euo pipefail

DEADLINE_S="${ENGINE_DEADLINE_S:-60}"
PKGS=(docker.io iptables containerd runc ca-certificates)
export DEBIAN_FRONTEND=noninteractive

# shellcheck source=scripts/engine-lib.sh
. "$(dirname "$0")/engine-lib.sh"

if docker info >/dev/null 2>&1; then
  log "engine already answering"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  # apt-get update only if the package lists do not know the packages yet.
  need_update=0
  for p in "${PKGS[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; break; fi
  done
  if [ "$need_update" = 1 ]; then
    log "apt-get update"
    apt-get update -qq
  fi
  log "installing ${PKGS[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null; then
    log "install failed; retrying after apt-get update"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  fi
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/dockerd.log)"
  # setsid + nohup: survive the caller's session; unix socket only.
  setsid nohup dockerd -H unix:///var/run/docker.sock >>/var/log/dockerd.log 2>&1 </dev/null &
fi

wait_for_engine
