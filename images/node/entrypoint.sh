#!/bin/bash
# entrypoint.sh for docker-rke nodes. Runs under tini (PID 1, reaps zombies).
# Prepares mounts/sysctls for nested containers, starts containerd (CRI enabled),
# then dockerd on the unix socket only, prints "entrypoint: ready", and waits.
# Works whether the node runs --privileged (cgroups already rw) or with explicit
# caps/security-opts (cgroups read-only: remounted here).
set -euo pipefail

log() { echo "entrypoint: $*"; }

# mount option of a mount point (last matching line of mountinfo wins)
mnt_opts() { awk -v m="$1" '$5 == m { o = $6 } END { print o }' /proc/self/mountinfo; }
is_ro() { case ",$(mnt_opts "$1")," in *,ro,*) return 0 ;; *) return 1 ;; esac; }

log "mount --make-rshared /"
mount --make-rshared /

if is_ro /sys; then
  log "remount /sys rw"
  mount -o remount,rw /sys
fi

# cgroup v1 hierarchies (and the hybrid cgroup2 at .../unified): remount rw.
# `mount -o remount,rw` fails with EBUSY, so unmount and mount afresh. With
# --cgroupns=private the fresh mount is rooted at this node's own cgroup.
if is_ro /sys/fs/cgroup; then
  log "remount /sys/fs/cgroup (tmpfs) rw"
  mount -o remount,rw /sys/fs/cgroup || log "warning: /sys/fs/cgroup stays ro"
fi
controllers=" $(awk 'NR > 1 { printf "%s ", $1 }' /proc/cgroups)"
# fields: mountpoint, mount opts, fstype, super opts
awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $5, $6, $(i+1), $(i+3); break } }' /proc/self/mountinfo |
while read -r dir opts fstype sopts; do
  case "$fstype" in cgroup|cgroup2) ;; *) continue ;; esac
  case ",$opts," in *,ro,*) ;; *) log "cgroup $dir already rw"; continue ;; esac
  umount "$dir"
  if [ "$fstype" = cgroup2 ]; then
    mount -t cgroup2 -o rw,nosuid,nodev,noexec cgroup2 "$dir"
  else
    o=""; has_ctl=0
    for x in ${sopts//,/ }; do
      case "$x" in rw|ro) continue ;; esac
      case "$controllers" in *" $x "*) has_ctl=1 ;; esac
      o="${o:+$o,}$x"
    done
    [ "$has_ctl" = 1 ] || o="none,$o"
    mount -t cgroup -o "$o" cgroup "$dir"
  fi
  log "cgroup $dir remounted rw ($fstype $sopts)"
done

if [ ! -e /dev/kmsg ]; then
  log "mknod /dev/kmsg"
  mknod /dev/kmsg c 1 11
fi

# Must be 1 before dockerd starts, else dockerd sets the FORWARD policy to DROP.
log "sysctl net.ipv4.ip_forward=1"
echo 1 > /proc/sys/net/ipv4/ip_forward

# overlay cannot nest on overlay: /var must be a volume for overlay2/overlayfs.
var_fs=$(stat -f -c %T /var/lib 2>/dev/null || echo unknown)
cfg=/etc/containerd/config.toml
storage=(--storage-driver=overlay2)
if [ "$var_fs" = overlayfs ]; then
  log "warning: /var is on overlayfs (no volume): using vfs/native snapshotters (slow)"
  storage=(--storage-driver=vfs)
  sed 's/snapshotter = "overlayfs"/snapshotter = "native"/' /etc/containerd/config.toml > /run/containerd-config.toml
  cfg=/run/containerd-config.toml
fi

mkdir -p /var/log /run/containerd
log "starting containerd"
containerd --config "$cfg" >>/var/log/containerd.log 2>&1 &
cpid=$!
for _ in $(seq 1 200); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.05; done

log "starting dockerd (${storage[*]})"
dockerd -H unix:///var/run/docker.sock --containerd=/run/containerd/containerd.sock \
  "${storage[@]}" >>/var/log/dockerd.log 2>&1 &
dpid=$!

stop() {
  log "stopping"
  kill -TERM "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true
  kill -TERM "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
  exit 0
}
trap stop TERM INT

ready=0
for _ in $(seq 1 600); do
  if docker version >/dev/null 2>&1; then ready=1; log "ready"; break; fi
  kill -0 "$dpid" 2>/dev/null || { log "dockerd died:"; tail -n 20 /var/log/dockerd.log; exit 1; }
  sleep 0.05
done
[ "$ready" = 1 ] || log "warning: dockerd not answering after 30s (see /var/log/dockerd.log)"

# Exit (and let the container stop) when either daemon dies.
wait -n "$cpid" "$dpid" || true
log "a daemon exited; tail of logs:"
tail -n 10 /var/log/containerd.log /var/log/dockerd.log || true
stop
