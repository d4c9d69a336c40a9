#!/usr/bin/env bash
# registry-binary.sh: print the path of Debian's docker-registry, the real
# registry server the e2e tests run as a lab mirror.
#
# An installed one is used as it is. Otherwise the package is unpacked, not
# installed, into .cache/ of the repository (once): installing it would
# also start a system service listening on port 5000 on machines with an
# init system, which a test run has no business leaving behind.
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1; then
  command -v docker-registry
  exit 0
fi

# shellcheck source=scripts/engine-lib.sh
. "$(dirname "$0")/engine-lib.sh"

dir="$(cd "$(dirname "$0")/.." && pwd)/.cache/docker-registry"
bin="$dir/usr/bin/docker-registry"
if [ ! -x "$bin" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  log "unpacking Debian's docker-registry into $dir"
  # apt-get download runs as the caller: the _apt sandbox user could not
  # write the temporary folder.
  if ! (cd "$tmp" && apt-get download -o APT::Sandbox::User=root docker-registry >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$tmp" && apt-get download -o APT::Sandbox::User=root docker-registry >/dev/null)
  fi
  mkdir -p "$dir"
  dpkg-deb -x "$tmp"/docker-registry_*.deb "$dir"
fi
echo "$bin"
