#!/usr/bin/env bash
# build.sh: make the root file system of the docker-rke node base image
# without any registry, and write it as a tar stream to stdout. docker rke
# runs this (`docker rke images build node`), imports the stream through the
# engine API of the current docker context as docker-rke/node-base:<hash of
# this file>, and adds the entrypoint and containerd config on top, so that
# changing those never repeats the slow part.
#
# debootstrap (minbase) of Debian bookworm from this machine's apt mirror,
# upgraded from bookworm-updates and -security. Progress goes to stderr.
#
#   build.sh > rootfs.tar
set -euo pipefail

SUITE=bookworm
log() { printf 'node image: %s\n' "$*" >&2; }

if [ -t 1 ]; then
  log "refusing to write a tar stream to a terminal"
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  log "debootstrap needs root: run as root (sudo docker rke images build node)"
  exit 2
fi

# Mirror: env MIRROR, else the first non-security URI of the host's apt sources.
mirror_from_host() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ { print $2 }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" && $2 !~ /^\[/ { print $2 }' || true
}
MIRROR="${MIRROR:-$(mirror_from_host | grep -v -- '-security' | grep -i debian | sed -n 1p || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY="${SECURITY_MIRROR:-$(mirror_from_host | grep -- 'debian-security' | sed -n 1p || true)}"
SECURITY="${SECURITY:-${MIRROR%/debian}/debian-security}"
log "mirror $MIRROR, security $SECURITY"

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
fi

WORK=$(mktemp -d /var/tmp/docker-rke-node.XXXXXX)
ROOT="$WORK/rootfs"
cleanup() {
  local rc=$?
  for m in proc sys dev; do umount -l "$ROOT/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$WORK"
  exit "$rc"
}
trap cleanup EXIT
# Turn a cancel into an exit so the EXIT trap cleans up.
trap 'exit 143' TERM INT

PKGS=docker.io,containerd,runc,tini,iptables,iproute2,conntrack,util-linux,mount,procps,ca-certificates,kmod,ethtool,socat
log "debootstrap $SUITE into $ROOT"
debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }

log "upgrading from $SUITE-updates and $SUITE-security"
cat >"$ROOT/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
SRC
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"; chmod 755 "$ROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOT/proc"
chroot "$ROOT" sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
  apt-get -y -qq -o Dpkg::Options::=--force-confold --no-install-recommends upgrade' >"$WORK/upgrade.log" 2>&1 ||
  { tail -n 30 "$WORK/upgrade.log" >&2; exit 1; }
umount "$ROOT/proc"
rm -f "$ROOT/usr/sbin/policy-rc.d"

log "stripping"
mkdir -p "$ROOT/opt/cni/bin" "$ROOT/etc/cni/net.d" "$ROOT/var/lib/kubelet" "$ROOT/etc/kubernetes"
# docker mounts these; never ship the build host's
rm -f "$ROOT/etc/resolv.conf" "$ROOT/etc/hostname"
: >"$ROOT/etc/machine-id"
rm -rf "$ROOT"/usr/share/{doc,man,info,locale,lintian,linda,bug,bash-completion,zsh,fish} \
  "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old \
  "$ROOT"/var/log/* "$ROOT"/tmp/* "$ROOT"/var/tmp/* "$ROOT"/root/.cache \
  "$ROOT"/usr/sbin/dockerd-rootless* "$ROOT"/usr/bin/dockerd-rootless* 2>/dev/null || true
find "$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/run" -mindepth 1 -delete 2>/dev/null || true

log "engine $(chroot "$ROOT" dpkg-query -W -f '${Version}' docker.io), containerd $(chroot "$ROOT" dpkg-query -W -f '${Version}' containerd)"

log "writing the root file system"
tar -C "$ROOT" --numeric-owner -c .
log "done"
