#!/usr/bin/env bash
# restart-engine.sh: restart the local Docker engine the way it runs, and
# wait until it answers again: `systemctl restart docker` where systemd
# runs it, else (as ensure-engine.sh starts it on machines without an init
# system) SIGTERM to dockerd, then the same command line again. Running
# containers are stopped by the engine and those with a restart policy
# come back with it, as after a host's reboot. The end-to-end tests and
# the benchmark use it; it needs root.
set -euo pipefail

DEADLINE_S="${ENGINE_DEADLINE_S:-120}"
# shellcheck source=scripts/engine-lib.sh
. "$(dirname "$0")/engine-lib.sh"

if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
  log "systemctl restart docker"
  systemctl restart docker
else
  pidfile=/var/run/docker.pid
  [ -s "$pidfile" ] || { log "no $pidfile: is a local dockerd running?"; exit 1; }
  pid=$(<"$pidfile")
  mapfile -d '' args </proc/"$pid"/cmdline
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  end=$(( $(date +%s) + DEADLINE_S ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$end" ]; then
      log "dockerd did not stop within ${DEADLINE_S}s"
      exit 1
    fi
    sleep 0.2
  done
  log "starting ${args[*]} (log: /var/log/dockerd.log)"
  setsid nohup "${args[@]}" >>/var/log/dockerd.log 2>&1 </dev/null &
fi

wait_for_engine
