#!/bin/bash
# entrypoint.sh for docker-rke nodes. Runs under tini (PID 1, reaps zombies).
# Prepares mounts/sysctls for nested containers, starts containerd (CRI enabled),
# then dockerd on the unix socket only, prints "entrypoint: ready", and waits.
# Works whether the node runs --privileged (cgroups already rw) or with explicit
# caps/security-opts (cgroups read-only: remounted here).
set -euo pipefail

# Every node of a cluster boots at once on a few cores, so what this script
# costs in CPU is time: it reads /proc with bash builtins rather than
# forking awk and grep, and never polls in a bash loop (socat retries its
# own connects instead).

log() { echo "entrypoint: $*"; }

# mount options of a mount point (the last matching line of mountinfo
# wins: it is the mount on top)
mnt_opts() {
  local mp opts o=""
  while read -r _ _ _ _ mp opts _; do
    [ "$mp" = "$1" ] && o=$opts
  done </proc/self/mountinfo
  echo "$o"
}
is_ro() { case ",$(mnt_opts "$1")," in *,ro,*) return 0 ;; *) return 1 ;; esac; }

log "mount --make-rshared /"
mount --make-rshared /

# /var is an empty volume of the node's own (docker rke does not copy the
# image's /var into it): lay out what Debian and the daemons expect.
# -n: on a restart the links exist already (and /run, a tmpfs, is new).
ln -sfn /run /var/run
ln -sfn /run/lock /var/lock
mkdir -p /run/lock
mkdir -p /var/lib/kubelet /var/lib/dpkg /var/log /var/cache /var/tmp /var/opt /var/spool /var/mail
chmod 1777 /var/tmp

# A release's node image carries its small images already loaded: the
# engine's and containerd's stores as they were after a load at build time
# (docker rke images build). Copied into the node's own /var at its first
# boot, before either daemon starts, they cost a fraction of loading them
# (every layer load execs dockerd again) while every node boots at once.
# A restarted node keeps its /var, and so its images.
seed=/opt/docker-rke/seed
seeded=0
if [ -d "$seed/var/lib" ]; then
  if [ ! -e /var/lib/docker ]; then
    t0=${EPOCHREALTIME/./}
    cp -a "$seed/var/lib/." /var/lib/
    log "images seeded in $(( (${EPOCHREALTIME/./} - t0) / 1000 ))ms"
  fi
  seeded=1
fi

# overlay cannot nest on overlay: /var must be a volume for overlay2/overlayfs.
var_fs=$(stat -f -c %T /var/lib 2>/dev/null || echo unknown)
cfg=/run/containerd-config.toml
cp /etc/containerd/config.toml "$cfg"
storage=(--storage-driver=overlay2)
if [ "$var_fs" = overlayfs ]; then
  log "warning: /var is on overlayfs (no volume): using vfs/native snapshotters (slow)"
  storage=(--storage-driver=vfs)
  sed -i 's/snapshotter = "overlayfs"/snapshotter = "native"/' "$cfg"
fi
# Registry mirrors of the cluster (docker rke passes them in the
# environment), for both the engine and containerd's CRI.
mirrors=()
if [ -n "${DOCKER_RKE_REGISTRY_MIRRORS:-}" ]; then
  IFS=, read -r -a list <<<"$DOCKER_RKE_REGISTRY_MIRRORS"
  endpoints=""
  for m in "${list[@]}"; do
    mirrors+=("--registry-mirror=$m")
    endpoints="${endpoints:+$endpoints, }\"$m\""
  done
  printf '\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = [%s]\n' "$endpoints" >>"$cfg"
  log "registry mirrors: $DOCKER_RKE_REGISTRY_MIRRORS"
fi

mkdir -p /var/log /run/containerd
# iptables' lock, shared with kube-proxy's container (a bind of a missing
# file would make a directory).
touch /run/xtables.lock
# containerd needs none of what follows (writable cgroups are needed only
# once it runs containers), so it starts first and boots while the node is
# prepared.
log "starting containerd"
containerd --config "$cfg" >>/var/log/containerd.log 2>&1 &
cpid=$!

# Docker's embedded DNS answers on 127.0.0.11, an address that exists only
# in this node's own network namespace: inner containers and pods cannot
# reach it, and docker then falls back to public resolvers that may not be
# reachable at all. Serve the embedded DNS on the node's gateway address too
# (DNAT in PREROUTING as well as OUTPUT) and point resolv.conf there. Every
# resolver in the node then asks the outer engine, which knows the peer
# nodes and the host's real upstream servers, even when the host itself uses
# a loopback resolver such as systemd-resolved's 127.0.0.53.
fix_dns() {
  local gw="" save="" restore rules="" b out t _
  read -r _ _ gw _ < <(ip -4 route show default)
  [ -n "$gw" ] || { log "dns: no default route, left alone"; return 0; }
  # Use the iptables backend the outer engine wrote its rules with (nft on
  # current distributions: asked first, so usually once).
  for b in nft legacy; do
    out=$("iptables-$b-save" -t nat 2>/dev/null) || continue
    if [[ $out == *DOCKER_OUTPUT* ]]; then
      save="iptables-$b-save" restore="iptables-$b-restore" rules=$out
      # Make plain iptables (kube-proxy, CNI) use the same backend.
      for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        ln -sf "/usr/sbin/${t/iptables/iptables-$b}" "/etc/alternatives/$t"
      done
      break
    fi
  done
  # Docker writes fresh rules for each start of the container; rewrite them
  # once per start.
  if [[ $rules != *"-A DOCKER_OUTPUT -d 127.0.0.11/32"* ]]; then
    log "dns: docker's embedded DNS rules not found, left alone"
    return 0
  fi
  printf '%s\n' "$rules" | sed \
    -e "s#-d 127\.0\.0\.11/32#-d $gw/32#g" \
    -e 's#^-A OUTPUT \(.*\) -j DOCKER_OUTPUT$#&\n-A PREROUTING \1 -j DOCKER_OUTPUT#' \
    -e "s#--to-source :53#--to-source $gw:53#g" | "$restore"
  # Packets from pods are DNATed to a loopback address; let them route.
  echo 1 >/proc/sys/net/ipv4/conf/all/route_localnet
  # resolv.conf is a bind mount: rewrite it in place.
  out=$(</etc/resolv.conf)
  printf '%s\n' "${out//nameserver 127.0.0.11/nameserver $gw}" >/etc/resolv.conf
  log "dns: embedded DNS served on $gw ($save)"
}
# Runs while the node is prepared; "ready" waits for it, so no inner
# container is created before resolv.conf is right.
fix_dns &
dns_pid=$!

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
controllers=" "
while read -r ctl _; do
  [ "${ctl:0:1}" = "#" ] || controllers+="$ctl "
done </proc/cgroups
remount_cgroup() {
  local dir=$1 fstype=$2 sopts=$3 o="" has_ctl=0 x
  umount "$dir"
  if [ "$fstype" = cgroup2 ]; then
    mount -t cgroup2 -o rw,nosuid,nodev,noexec cgroup2 "$dir"
    return
  fi
  for x in ${sopts//,/ }; do
    case "$x" in rw|ro) continue ;; esac
    case "$controllers" in *" $x "*) has_ctl=1 ;; esac
    o="${o:+$o,}$x"
  done
  [ "$has_ctl" = 1 ] || o="none,$o"
  mount -t cgroup -o "$o" cgroup "$dir"
}
# All hierarchies at once, and all of it while containerd and dockerd start
# (neither needs writable cgroups before it runs a container; "ready" waits
# for this): cgroup mounts serialise in the kernel, and every node boots at
# once.
remount_cgroups() {
local pids=() names=() p f i dir opts line mounts
# Read mountinfo whole first: the remounts below change it while the loop
# runs.
mapfile -t mounts </proc/self/mountinfo
# mountinfo: id parent dev root mountpoint opts [optional...] - fstype source superopts
for line in "${mounts[@]}"; do
  read -r -a f <<<"$line"
  [ "${#f[@]}" -ge 10 ] || continue
  dir=${f[4]} opts=${f[5]}
  for ((i = 6; i < ${#f[@]}; i++)); do [ "${f[i]}" = - ] && break; done
  case "${f[i+1]:-}" in cgroup|cgroup2) ;; *) continue ;; esac
  case ",$opts," in *,ro,*) ;; *) continue ;; esac
  remount_cgroup "$dir" "${f[i+1]}" "${f[i+3]}" &
  pids+=($!) names+=("${dir##*/}")
done
for p in "${pids[@]}"; do wait "$p"; done
if [ "${#names[@]}" -gt 0 ]; then
  log "cgroups remounted rw: ${names[*]}"
else
  log "cgroups already rw"
fi
}
remount_cgroups &
cgroups_pid=$!

if [ ! -e /dev/kmsg ]; then
  log "mknod /dev/kmsg"
  mknod /dev/kmsg c 1 11
fi

# Must be 1 before dockerd starts, else dockerd sets the FORWARD policy to DROP.
log "sysctl net.ipv4.ip_forward=1"
echo 1 > /proc/sys/net/ipv4/ip_forward

# dockerd's containerd client backs off for a second if the socket is not
# there yet: wait for it, with socat retrying the connect every 20 ms.
socat -u OPEN:/dev/null UNIX-CONNECT:/run/containerd/containerd.sock,retry=500,interval=0.02 2>/dev/null ||
  log "warning: containerd not answering after 10s (see /var/log/containerd.log)"

# No bridge and no iptables rules from the inner engine: Kubernetes
# components run with the node's network, pods get theirs from CNI. This
# keeps dockerd's start short and its FORWARD policy out of pod traffic.
log "starting dockerd (${storage[*]})"
dockerd -H unix:///var/run/docker.sock --containerd=/run/containerd/containerd.sock \
  --bridge=none --iptables=false --ip-masq=false \
  "${storage[@]}" "${mirrors[@]}" >>/var/log/dockerd.log 2>&1 &
dpid=$!

stop() {
  log "stopping"
  kill -TERM "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true
  kill -TERM "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
  exit 0
}
trap stop TERM INT

# A release's node image carries the images its components run from
# (docker rke images build). They load after ready, not while the nodes
# boot: the node phase ends at ready, and the next phase waits for
# "static image loaded" or "images loaded". The pause image goes into the
# engine first (etcd and the control plane run static programs bound in
# from /opt/docker-rke/bin on it), then the runtime image (kubelet's and
# kube-proxy's tools) into the engine while pause goes into containerd's
# k8s.io namespace, where kubelet's CRI looks for its sandbox image.
import_pause() {
  local f
  for f in /opt/docker-rke/images/pause_*.tar; do
    [ -e "$f" ] || return 1
    ctr -n k8s.io images import --all-platforms "$f" >/dev/null
  done
}
load_images() {
  local dir=/opt/docker-rke/images start f n=0 pause_pid
  if [ "$seeded" = 1 ]; then
    log "static image loaded"
    log "images loaded: seeded"
    return 0
  fi
  [ -d "$dir" ] || return 0
  start=$(date +%s%N)
  for f in "$dir"/pause_*.tar; do
    [ -e "$f" ] || continue
    docker load -q -i "$f" >/dev/null && log "static image loaded"
  done
  import_pause &
  pause_pid=$!
  for f in "$dir"/runtime_*.tar; do
    [ -e "$f" ] || continue
    docker load -q -i "$f" >/dev/null && n=$((n + 1))
  done
  wait "$pause_pid" && n=$((n + 1))
  log "images loaded: $n in $(( ($(date +%s%N) - start) / 1000000 ))ms"
}
# A ping over the socket with socat (the docker CLI would cost far more
# CPU): socat retries the connect every 20 ms for up to a second, and the
# engine answers once it serves its API.
ping_engine() {
  local out
  out=$(printf 'GET /_ping HTTP/1.0\r\n\r\n' |
    socat -t2 -T2 - UNIX-CONNECT:/var/run/docker.sock,retry=50,interval=0.02 2>/dev/null) || return 1
  [[ $out == *$'\n'OK ]]
}
ready=0
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
  if ping_engine; then
    # Containers may only be created once cgroups are writable and
    # resolv.conf points at the served DNS: both ran while dockerd started.
    wait "$cgroups_pid" || { log "remounting cgroups failed"; exit 1; }
    wait "$dns_pid" || log "warning: dns setup failed"
    ready=1
    log "ready"
    break
  fi
  kill -0 "$dpid" 2>/dev/null || { log "dockerd died:"; tail -n 20 /var/log/dockerd.log; exit 1; }
done
[ "$ready" = 1 ] || log "warning: dockerd not answering after 30s (see /var/log/dockerd.log)"
# After "ready": the node phase ends when engines answer, and the next
# phase waits for "images loaded", so loading overlaps the rest of up.
if [ "$ready" = 1 ]; then
  load_images || log "warning: loading images failed"
fi


# Exit (and let the container stop) when either daemon dies.
wait -n "$cpid" "$dpid" || true
log "a daemon exited; tail of logs:"
tail -n 10 /var/log/containerd.log /var/log/dockerd.log || true
stop
