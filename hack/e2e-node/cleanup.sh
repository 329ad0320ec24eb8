#!/usr/bin/env bash
# Stops whatever a real-node e2e run left behind under RUN_DIR (default .e2e/run): processes whose command
# line names RUN_DIR (containerd, its shims and their containers, kubelet, kube-scheduler,
# kube-controller-manager, kube-proxy, etcd, kube-apiserver, hookrun, git daemon), the mounts under RUN_DIR, the
# network namespaces of its sandboxes, kube-proxy's nftables tables and its CNI bridge. Safe to run when
# nothing is left. The Go suite stops everything itself; this is the net under it (a killed `go test`) and
# runs before each start as well.
set -uo pipefail

run=${1:-$(cd "$(dirname "$0")/../.." && pwd)/.e2e/run}
bridge=${HOOKRUN_E2E_BRIDGE:-hookrun0}
[ -d "$run" ] || exit 0
run=$(cd "$run" && pwd)

descendants() {
  local p c
  for p in "$@"; do
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
      echo "$c"
      descendants "$c"
    done
  done
}

# This script's own ancestors (make, go test's shell) may name RUN_DIR too: never touch them.
ancestors=" "
p=$$
while [ -n "$p" ] && [ "$p" != 0 ]; do
  ancestors+="$p "
  p=$(awk '/^PPid:/ { print $2 }' /proc/"$p"/status 2>/dev/null)
done

mine=()
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  case "$ancestors" in *" $pid "*) continue ;; esac
  cmd=$( { tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null) || continue
  case "$cmd" in
    *"$run"*) mine+=("$pid") ;;
  esac
done
if [ ${#mine[@]} -gt 0 ]; then
  victims=("${mine[@]}" $(descendants "${mine[@]}"))
  echo ">> e2e-node cleanup: stopping ${#victims[@]} leftover process(es) under $run"
  kill -TERM "${victims[@]}" 2>/dev/null
  for _ in $(seq 1 50); do
    alive=()
    for p in "${victims[@]}"; do [ -d /proc/"$p" ] && alive+=("$p"); done
    [ ${#alive[@]} -eq 0 ] && break
    sleep 0.1
  done
  for p in "${victims[@]}"; do [ -d /proc/"$p" ] && kill -KILL "$p" 2>/dev/null; done
  sleep 0.2
fi

# Mounts under RUN_DIR, deepest first (the sandboxes' network namespaces too: netns_mounts_under_state_dir).
for _ in 1 2 3; do
  mounts=$(awk -v r="$run" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  [ -n "$mounts" ] || break
  for m in $mounts; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
done

# containerd 1.6 puts its shims' sockets in /run/containerd/s whatever its state dir: remove the directories
# if they are empty (a containerd of the host's own would have its socket there).
rmdir /run/containerd/s /run/containerd 2>/dev/null

# runc's cgroups live under k8s.io (the CRI namespace) in each v1 hierarchy; empty ones can go (a busy one,
# of another containerd, refuses rmdir).
for c in /sys/fs/cgroup/*/k8s.io; do
  [ -d "$c" ] || continue
  for d in "$c"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  rmdir "$c" 2>/dev/null
done

# The CNI bridge plugin (isGateway) turns on IPv4 forwarding: put back what the run found.
if [ -f "$run/ip_forward.orig" ]; then
  cat "$run/ip_forward.orig" > /proc/sys/net/ipv4/ip_forward 2>/dev/null
  rm -f "$run/ip_forward.orig"
fi

# kube-proxy's nftables tables (named in RUN_DIR/kube-proxy.nft by the suite when it starts kube-proxy).
if [ -f "$run/kube-proxy.nft" ] && command -v nft > /dev/null; then
  while read -r family table; do
    [ -n "$table" ] && nft delete table "$family" "$table" 2>/dev/null
  done < "$run/kube-proxy.nft"
  rm -f "$run/kube-proxy.nft"
fi

if ip link show "$bridge" > /dev/null 2>&1; then
  ip link delete "$bridge" 2>/dev/null || true
fi
exit 0
