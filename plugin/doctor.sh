#!/bin/sh
# doctor.sh runs for `docker rke doctor` (plugin/doctor.go) in a
# short-lived container of the node image on the engine's host, and prints
# what that host's kernel gives containers, one key=value a line. A
# container sees the host's inotify limits and modules, and its root is on
# the file system that holds the engine's images and volumes.
echo "kernel=$(uname -r)"
echo "inotify_instances=$(cat /proc/sys/fs/inotify/max_user_instances)"
echo "inotify_watches=$(cat /proc/sys/fs/inotify/max_user_watches)"
for m in overlay br_netfilter; do
  if [ -d "/sys/module/$m" ]; then echo "module_$m=yes"; else echo "module_$m=no"; fi
done
# The resolvers the engine gives containers: nodes' own DNS server, and so
# CoreDNS, forward names outside the cluster to them.
echo "nameservers=$(sed -n 's/^nameserver[[:space:]]*//p' /etc/resolv.conf | tr '\n' ' ')"
# shellcheck disable=SC2046 # the fields of df's one line, on purpose
set -- $(df -Pk / | tail -n 1)
echo "disk_free_kib=$4"
