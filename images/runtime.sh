set -eu
list=$(mktemp)
add() {
  local p t
  p=$1
  while :; do
    [ -e "$p" ] || [ -L "$p" ] || return 0
    # Canonical directory, own name: keeps the symlink itself.
    p="$(readlink -f "$(dirname "$p")")/$(basename "$p")"
    echo "$p" >>"$list"
    [ -L "$p" ] || return 0
    t=$(readlink "$p")
    case "$t" in /*) p=$t ;; *) p="$(dirname "$p")/$t" ;; esac
  done
}
for d in /bin /sbin /lib /lib64; do [ -L "$d" ] && echo "$d" >>"$list"; done
bins="/usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi /usr/sbin/conntrack /usr/bin/mount /usr/bin/umount /usr/bin/nsenter /usr/bin/findmnt /usr/bin/dash"
for b in $bins; do
  add "$b"
  for l in $(ldd "$b" | awk '/=>/ { print $3 } /^[[:space:]]*\// { print $1 }'); do add "$l"; done
done
# The multiarch directory of the engine's architecture (x86_64-linux-gnu, aarch64-linux-gnu).
for x in /usr/lib/*-linux-gnu*/xtables/*.so; do
  [ -e "$x" ] || continue
  add "$x"
  for l in $(ldd "$x" | awk '/=>/ { print $3 }'); do add "$l"; done
done
for t in iptables ip6tables; do
  for v in "" -nft -legacy; do
    for s in "" -save -restore; do add "/usr/sbin/$t$v$s"; done
  done
done
add /usr/bin/sh
add /etc/ssl/certs/ca-certificates.crt
sort -u "$list" | sed 's|^/||' >"$list.sorted"
tar -C / --no-recursion -c -f - -T "$list.sorted"
