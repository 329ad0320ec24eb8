#!/usr/bin/env bash
# Installs the Debian packages the real-node e2e needs (containerd, runc, CNI plugins, umoci, busybox-static,
# debootstrap, git; nftables and conntrack for kube-proxy) when any is missing. Needs root; touches nothing else on the host.
set -euo pipefail
pkgs=(containerd runc containernetworking-plugins umoci busybox-static debootstrap git nftables conntrack)
if [ "$(id -u)" != 0 ]; then
  echo "e2e-node: must run as root (it starts containerd and a kubelet); try: sudo make e2e-node" >&2
  exit 1
fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo ">> installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
for p in "${missing[@]}"; do
  c=$(candidate "$p")
  if [ -z "$c" ] || [ "$c" = "(none)" ]; then
    apt-get update -qq
    break
  fi
done
for p in "${missing[@]}"; do
  c=$(candidate "$p")
  if [ -z "$c" ] || [ "$c" = "(none)" ]; then
    echo "e2e-node: Debian package $p is not available from the configured apt sources" >&2
    exit 1
  fi
done
# policy-rc.d keeps the package's own containerd service from starting: the e2e runs its own instance.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ -n "$created_policy" ] && rm -f "$policy"' EXIT
# The package lists a machine starts with can be older than the mirror (a listed version no longer
# downloadable): read them again and retry once before giving up.
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  echo ">> apt-get install failed; refreshing the package lists and retrying once"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
