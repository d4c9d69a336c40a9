#!/bin/bash
# entrypoint.sh for docker-rke nodes. Runs under tini (PID 1, reaps zombies).
# Prepares mounts/sysctls for nested containers, starts containerd (CRI enabled)
# and dockerd on the unix socket only, prints "entrypoint: ready", and waits.
# Works whether the node runs --privileged (cgroups already rw) or with explicit
# caps/security-opts (cgroups read-only: remounted here).
set -euo pipefail

# Every node of a cluster boots at once on a few cores, so what this script
# costs in CPU is time: it forks as little as it can (a fork and exec costs
# more than most of what it runs), reads /proc and rewrites files with bash
# builtins rather than awk, grep and sed, and never polls in a bash loop
# (socat retries its own connects instead).

log() { echo "entrypoint: $*"; }

# The mount table, read once (builtins only): mount point -> mount
# options, file system type and super block options.
declare -A mnt_opts mnt_type mnt_super
read_mounts() {
  local i
  local -a f
  mnt_opts=() mnt_type=() mnt_super=()
  # mountinfo: id parent dev root mountpoint opts [optional...] - fstype source superopts
  while read -r -a f; do
    for ((i = 6; i < ${#f[@]}; i++)); do [ "${f[i]}" = - ] && break; done
    [ $((i + 3)) -lt "${#f[@]}" ] || continue
    # A later line for the same mount point is the mount on top.
    mnt_opts[${f[4]}]=${f[5]} mnt_type[${f[4]}]=${f[i+1]} mnt_super[${f[4]}]=${f[i+3]}
  done </proc/self/mountinfo
}
is_ro() { case ",${mnt_opts[$1]:-}," in *,ro,*) return 0 ;; *) return 1 ;; esac; }

log "mount --make-rshared /"
mount --make-rshared /
read_mounts

# /var is the node's own volume, empty at its first boot (docker rke does
# not let the engine copy the image's /var into it). The node image
# carries what it must hold then, in /opt/docker-rke/seed/var: the layout
# Debian and the daemons expect and, in a release's node image, the
# engine's and containerd's stores with its small images loaded (docker
# rke images build). One copy lays it all out: no load (every layer load
# execs dockerd again) and no mkdir, ln or chmod each, while every node
# of the cluster boots at once. A restarted node keeps its /var.
seed=/opt/docker-rke/seed/var
shopt -s nullglob dotglob
content=(/var/*)
shopt -u nullglob dotglob
if [ "${#content[@]}" = 0 ]; then
  t0=${EPOCHREALTIME/./}
  cp -a "$seed/." /var/
  t0=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
  if [ -d "$seed/lib/docker" ]; then
    log "images seeded in ${t0}ms"
  else
    log "/var laid out in ${t0}ms"
  fi
fi
# A /var kept from another node image (up replaced the node: a new
# release, new settings) holds that image's loaded images: it gets this
# image's own from the saved files after the engine starts. The seed's id
# says which (images build writes it; builtins only).
seed_id="" have_id=""
[ -f "$seed/lib/docker-rke/seed-id" ] && read -r seed_id <"$seed/lib/docker-rke/seed-id"
[ -f /var/lib/docker-rke/seed-id ] && read -r have_id </var/lib/docker-rke/seed-id
seeded=0
[ -n "$seed_id" ] && [ "$seed_id" = "$have_id" ] && seeded=1
# What makes the node itself (its certificates and kubeconfigs, its pod
# network's config and route script) lives in /var with its data, so that
# a node up replaces comes back as itself, routes and all: the image's
# folders are bind mounts of it (one mount for all three).
persist=/var/lib/docker-rke/etc
[ -d "$persist/docker-rke" ] || mkdir -p "$persist/kubernetes" "$persist/cni/net.d" "$persist/docker-rke"
mount -a -T /usr/local/lib/docker-rke/persist.fstab
# A node that starts again has no pod left (their network namespaces went
# with the node's processes), but host-local IPAM keeps its allocations in
# /var: free them, or every restart would leak the pods' addresses until
# the node's block ran out. Keep each range's last_reserved_ip, so that
# allocation goes on after it instead of handing the old pods' addresses
# straight to other pods: until the kubelet reports a restarted pod's new
# address, its Service still lists the old one, and a reused address
# would send that Service's traffic to whichever pod got it.
[ ! -d /var/lib/cni/networks ] || find /var/lib/cni/networks -type f ! -name 'last_reserved_ip.*' -delete
mkdir -p /run/lock
# iptables' lock, shared with kube-proxy's container (a bind of a missing
# file would make a directory).
: >>/run/xtables.lock

# overlay cannot nest on overlay: /var must be a volume for overlay2/overlayfs.
cfg=/etc/containerd/config.toml
storage=(--storage-driver=overlay2)
if [ -z "${mnt_type[/var]:-}" ] || [ "${mnt_type[/var]}" = overlay ]; then
  log "warning: /var is on overlayfs (no volume): using vfs/native snapshotters (slow)"
  storage=(--storage-driver=vfs)
  cfg=/run/containerd-config.toml
  config=$(<"/etc/containerd/config.toml")
  printf '%s\n' "${config//snapshotter = \"overlayfs\"/snapshotter = \"native\"}" >"$cfg"
fi
# Registry mirrors of the cluster. docker rke passes them in the
# environment as registry=mirror pairs, mirrors of one registry in the
# order they are asked (docker rke has checked both parts: no quotes,
# spaces or commas). containerd's CRI reads one hosts.toml per registry
# (config_path in config.toml): the mirrors in order, then the registry
# itself. Written afresh at every start, so the definition is the truth.
# The node's engine takes Docker Hub's mirrors (the only ones it knows).
mirrors=()
rm -rf /etc/containerd/certs.d
if [ -n "${DOCKER_RKE_REGISTRY_HOSTS:-}" ]; then
  IFS=, read -r -a pairs <<<"$DOCKER_RKE_REGISTRY_HOSTS"
  for pair in "${pairs[@]}"; do
    registry=${pair%%=*} url=${pair#*=}
    hosts=/etc/containerd/certs.d/$registry/hosts.toml
    if [ ! -f "$hosts" ]; then
      mkdir -p "${hosts%/*}"
      server="https://$registry"
      [ "$registry" = docker.io ] && server=https://registry-1.docker.io
      printf 'server = "%s"\n' "$server" >"$hosts"
    fi
    printf '\n[host."%s"]\n  capabilities = ["pull", "resolve"]\n' "$url" >>"$hosts"
    [ "$registry" = docker.io ] && mirrors+=("--registry-mirror=$url")
    log "registry mirror of $registry: $url"
  done
fi

# Must be 1 before dockerd starts, else dockerd sets the FORWARD policy to DROP.
log "sysctl net.ipv4.ip_forward=1"
echo 1 > /proc/sys/net/ipv4/ip_forward

# Writable /sys and cgroups, for the containers and pods the daemons will
# run. cgroup v1 hierarchies (and the hybrid cgroup2 at .../unified) cannot
# be remounted rw (EBUSY): unmount them and mount them afresh, all with one
# umount and one mount -a of a table made here (one exec each instead of
# two per hierarchy). With --cgroupns=private the fresh mounts are rooted at
# this node's own cgroup.
writable_cgroups() {
  local dir x o has_ctl ctl controllers=" " table="" names=()
  local -a dirs=()
  if is_ro /sys; then
    log "remount /sys rw"
    mount -o remount,rw /sys
  fi
  if is_ro /sys/fs/cgroup && [ "${mnt_type[/sys/fs/cgroup]:-}" = tmpfs ]; then
    log "remount /sys/fs/cgroup (tmpfs) rw"
    mount -o remount,rw /sys/fs/cgroup || log "warning: /sys/fs/cgroup stays ro"
  fi
  while read -r ctl _; do
    [ "${ctl:0:1}" = "#" ] || controllers+="$ctl "
  done </proc/cgroups
  for dir in "${!mnt_type[@]}"; do
    case "${mnt_type[$dir]}" in cgroup|cgroup2) ;; *) continue ;; esac
    is_ro "$dir" || continue
    dirs+=("$dir") names+=("${dir##*/}")
    if [ "${mnt_type[$dir]}" = cgroup2 ]; then
      table+="cgroup2 $dir cgroup2 rw,nosuid,nodev,noexec 0 0"$'\n'
      continue
    fi
    o="" has_ctl=0
    for x in ${mnt_super[$dir]//,/ }; do
      case "$x" in rw|ro) continue ;; esac
      case "$controllers" in *" $x "*) has_ctl=1 ;; esac
      o="${o:+$o,}$x"
    done
    [ "$has_ctl" = 1 ] || o="none,$o"
    table+="cgroup $dir cgroup rw,nosuid,nodev,noexec,$o 0 0"$'\n'
  done
  if [ "${#dirs[@]}" = 0 ]; then
    log "cgroups already rw"
    return 0
  fi
  printf '%s' "$table" >/run/cgroups.fstab
  umount "${dirs[@]}"
  mount -a -T /run/cgroups.fstab
  log "cgroups remounted rw: ${names[*]}"
}
writable_cgroups &
cgroups_pid=$!

# dockerd starts now, while the cgroups are remounted: its containerd
# client waits for the socket by itself (it retries a missing socket
# every 10 ms). containerd starts once the cgroups are remounted:
# containerd 2 holds the hierarchies open from its start, and a busy
# hierarchy cannot be unmounted. What follows runs while they start;
# "ready" waits for it.
log "starting dockerd and containerd (${storage[*]})"
# Both daemons in sessions of their own: tini passes the node's SIGTERM
# (docker stop, the engine's shutdown) to this script's process group, and
# stop() must end the components in order before dockerd, and dockerd
# before containerd.
# No bridge and no iptables rules from the inner engine: Kubernetes
# components run with the node's network, pods get theirs from CNI. This
# keeps dockerd's start short and its FORWARD policy out of pod traffic.
setsid dockerd -H unix:///var/run/docker.sock --containerd=/run/containerd/containerd.sock \
  --bridge=none --iptables=false --ip-masq=false \
  "${storage[@]}" "${mirrors[@]}" >>/var/log/dockerd.log 2>&1 &
dpid=$!
cgroups_ok=1
wait "$cgroups_pid" || cgroups_ok=0
setsid containerd --config "$cfg" >>/var/log/containerd.log 2>&1 &
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
  local gw="" save="" restore rules="" b out t line dest hex
  # The default route's gateway, from /proc/net/route (hex, little endian).
  while read -r _ dest hex _; do
    if [ "$dest" = 00000000 ] && [ "$hex" != 00000000 ]; then
      gw=$((16#${hex:6:2})).$((16#${hex:4:2})).$((16#${hex:2:2})).$((16#${hex:0:2}))
      break
    fi
  done </proc/net/route
  [ -n "$gw" ] || { log "dns: no default route, left alone"; return 0; }
  # Use the iptables backend the outer engine wrote its rules with (nft on
  # current distributions, the image's default: asked first, so usually
  # once).
  for b in nft legacy; do
    out=$("iptables-$b-save" -t nat 2>/dev/null) || continue
    if [[ $out == *DOCKER_OUTPUT* ]]; then
      save="iptables-$b-save" restore="iptables-$b-restore" rules=$out
      if [ "$b" != nft ]; then
        # Make plain iptables (kube-proxy, CNI) use the same backend.
        for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
          ln -sf "/usr/sbin/${t/tables/tables-$b}" "/etc/alternatives/$t"
        done
      fi
      break
    fi
  done
  # Docker writes fresh rules for each start of the container; rewrite them
  # once per start.
  if [[ $rules != *"-A DOCKER_OUTPUT -d 127.0.0.11/32"* ]]; then
    log "dns: docker's embedded DNS rules not found, left alone"
    return 0
  fi
  out=""
  while IFS= read -r line; do
    line=${line//-d 127.0.0.11\/32/-d $gw/32}
    line=${line//--to-source :53/--to-source $gw:53}
    out+=$line$'\n'
    if [[ $line == "-A OUTPUT "*" -j DOCKER_OUTPUT" ]]; then
      out+="-A PREROUTING ${line#-A OUTPUT }"$'\n'
    fi
  done <<<"$rules"
  "$restore" <<<"$out"
  # Packets from pods are DNATed to a loopback address; let them route.
  echo 1 >/proc/sys/net/ipv4/conf/all/route_localnet
  # resolv.conf is a bind mount: rewrite it in place.
  out=$(</etc/resolv.conf)
  printf '%s\n' "${out//nameserver 127.0.0.11/nameserver $gw}" >/etc/resolv.conf
  log "dns: embedded DNS served on $gw ($save)"
}
fix_dns &
dns_pid=$!


if [ ! -e /dev/kmsg ]; then
  log "mknod /dev/kmsg"
  mknod /dev/kmsg c 1 11
fi

# The components stop in the order the node's parts depend on each other:
# what uses the API server, then the API server (its shutdown takes its
# address out of the kubernetes Service, through etcd), then etcd, which
# closes its data. dockerd alone would stop them all at once, and an API
# server whose etcd is gone waits out its whole grace period. (Names absent
# on this node are skipped; the components' restart policy starts them
# again with the engine.)
stop_components() {
  local group
  for group in "kubelet kube-proxy api-proxy kube-scheduler kube-controller-manager" kube-apiserver etcd; do
    # shellcheck disable=SC2086 # a group is several names
    docker stop -t 20 $group >/dev/null 2>&1 || true
  done
}
stop() {
  log "stopping"
  stop_components
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
  [ -z "$seed_id" ] || printf '%s\n' "$seed_id" >/var/lib/docker-rke/seed-id
  log "images loaded: $n in $(( ($(date +%s%N) - start) / 1000000 ))ms"
}
# A ping over the socket with socat (the docker CLI would cost far more
# CPU): socat retries the connect every 20 ms for up to a second, and the
# engine answers once it serves its API.
ping_engine() {
  local out
  out=$(socat -t2 -T2 - UNIX-CONNECT:/var/run/docker.sock,retry=50,interval=0.02 \
    <<<$'GET /_ping HTTP/1.0\r\n\r' 2>/dev/null) || return 1
  [[ $out == *$'\n'OK ]]
}
ready=0
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
  if ping_engine; then
    # Containers may only be created once cgroups are writable and
    # resolv.conf points at the served DNS: both ran while dockerd started.
    [ "$cgroups_ok" = 1 ] || { log "remounting cgroups failed"; exit 1; }
    wait "$dns_pid" || log "warning: dns setup failed"
    # A restarted node has a new network namespace: put back the routes
    # to the other nodes' pods and the masquerading up set (node
    # addresses are fixed, so the script up left here is still right).
    net=/etc/docker-rke/network.sh
    if [ -f "$net" ]; then
      if out=$(sh -e "$net" 2>&1); then
        log "pod routes restored"
      else
        log "warning: restoring pod routes failed: $out"
      fi
    fi
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
