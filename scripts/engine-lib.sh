# shellcheck shell=bash
# engine-lib.sh: what ensure-engine.sh and restart-engine.sh share. Sourced.

log() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; }

# wait_for_engine waits, with a deadline of DEADLINE_S seconds, until the
# engine answers `docker version`, and fails with dockerd's last log lines.
wait_for_engine() {
  local start end
  start=$(date +%s%N)
  end=$(( $(date +%s) + DEADLINE_S ))
  until docker version >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then
      log "dockerd did not answer within ${DEADLINE_S}s; last log lines:"
      tail -n 20 /var/log/dockerd.log >&2 || true
      return 1
    fi
    sleep 0.2
  done
  log "engine answering after $(( ($(date +%s%N) - start) / 1000000 )) ms"
}
