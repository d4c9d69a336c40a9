#!/usr/bin/env bash
# build.sh: build the docker-rke node image without any registry.
# debootstrap (minbase) of Debian bookworm from this machine's apt mirror, plus
# bookworm-updates/-security upgrades, then `tar | docker import`.
# Tag: docker-rke/node:<first 12 hex of sha256(build.sh entrypoint.sh containerd.toml)>.
# If that tag exists, prints it and does nothing. Prints the tag on stdout.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="${NODE_IMAGE_REPO:-docker-rke/node}"
SUITE=bookworm
log() { printf 'build: [%3ss] %s\n' "$SECONDS" "$*" >&2; }

HASH=$(cat "$HERE/build.sh" "$HERE/entrypoint.sh" "$HERE/containerd.toml" | sha256sum | cut -c1-12)
TAG="$REPO:$HASH"
if docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG already exists"
  echo "$TAG"; exit 0
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
IMG_ID=""
cleanup() {
  local rc=$?
  for m in proc sys dev; do umount -l "$ROOT/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$WORK"
  if [ "$rc" -ne 0 ] && [ -n "$IMG_ID" ]; then docker rmi -f "$IMG_ID" >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap cleanup EXIT

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

log "installing entrypoint and config, stripping"
install -m 0755 "$HERE/entrypoint.sh" "$ROOT/usr/local/bin/entrypoint.sh"
install -D -m 0644 "$HERE/containerd.toml" "$ROOT/etc/containerd/config.toml"
mkdir -p "$ROOT/opt/cni/bin" "$ROOT/etc/cni/net.d" "$ROOT/var/lib/kubelet" "$ROOT/etc/kubernetes"
# docker mounts these; never ship the build host's
rm -f "$ROOT/etc/resolv.conf" "$ROOT/etc/hostname"
: >"$ROOT/etc/machine-id"
rm -rf "$ROOT"/usr/share/{doc,man,info,locale,lintian,linda,bug,bash-completion,zsh,fish} \
  "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old \
  "$ROOT"/var/log/* "$ROOT"/tmp/* "$ROOT"/var/tmp/* "$ROOT"/root/.cache \
  "$ROOT"/usr/sbin/dockerd-rootless* "$ROOT"/usr/bin/dockerd-rootless* 2>/dev/null || true
find "$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/run" -mindepth 1 -delete 2>/dev/null || true

log "importing"
DOCKER_VER=$(chroot "$ROOT" dpkg-query -W -f '${Version}' docker.io)
CONTAINERD_VER=$(chroot "$ROOT" dpkg-query -W -f '${Version}' containerd)
IMG_ID=$(tar -C "$ROOT" --numeric-owner -c . | docker import \
  --change 'ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/entrypoint.sh"]' \
  --change 'CMD []' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV container=docker' \
  --change 'VOLUME ["/var"]' \
  --change "LABEL io.docker-rke.node=true io.docker-rke.recipe=$HASH io.docker-rke.docker-version=$DOCKER_VER io.docker-rke.containerd-version=$CONTAINERD_VER" \
  -m "docker-rke node $HASH" - )
docker tag "$IMG_ID" "$TAG"
log "built $TAG ($IMG_ID)"
echo "$TAG"
