#!/usr/bin/env bash
# Builds the real-node e2e's container images as OCI archives with umoci, from Debian's packages only (no
# registry is reachable here). Cached: an image is rebuilt only when its inputs change.
#
#   hack/e2e-node/images.sh OUTDIR HOOKRUN_BINARY HOOKRUN_STEP_BINARY
#
# Writes OUTDIR/NAME.tar (OCI image layout, tar) and OUTDIR/images.tsv: one "IMAGE-REFERENCE<TAB>ARCHIVE" line
# per name the e2e imports (one archive can carry several names). Images:
#   pause   busybox sleeping forever, imported under containerd's sandbox_image name
#   busybox busybox-static with its applets (sh, cat, ...): stands in for alpine:3.20
#   debian  a debootstrap bookworm minbase with git and bash: alpine/git:2.45.2, bash:5.1.4, bash:5.0.18
#   hookrun the static hookrun and hookrun-step binaries in /usr/local/bin (ghcr.io/hookrun/hookrun:e2e)
set -euo pipefail

out=${1:?usage: images.sh OUTDIR HOOKRUN_BINARY}
hookrun=${2:?usage: images.sh OUTDIR HOOKRUN_BINARY HOOKRUN_STEP_BINARY}
hookrun_step=${3:?usage: images.sh OUTDIR HOOKRUN_BINARY HOOKRUN_STEP_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$out/work"
mirror=${HOOKRUN_E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${HOOKRUN_E2E_DEBIAN_SUITE:-bookworm}
PAUSE_IMAGE=${HOOKRUN_E2E_PAUSE_IMAGE:-registry.k8s.io/pause:3.6}
HOOKRUN_IMAGE=${HOOKRUN_E2E_HOOKRUN_IMAGE:-ghcr.io/hookrun/hookrun:e2e}

script_sum=$(sha256sum "$here/images.sh" | cut -c1-64)
busybox_version=$(dpkg-query -W -f='${Version}' busybox-static)

# key NAME PARTS...: the cache key of an image; fresh NAME KEY: whether NAME.tar was built from KEY.
key() { printf '%s\n' "$@" "$script_sum" | sha256sum | cut -c1-64; }
fresh() { [ -f "$out/$1.tar" ] && [ "$(cat "$out/$1.key" 2>/dev/null)" = "$2" ]; }

# pack NAME ROOTFS KEY CONFIG-ARGS...: one-layer image from ROOTFS, written to OUT/NAME.tar.
pack() {
  local name=$1 rootfs=$2 k=$3
  shift 3
  local layout="$work/$name-oci"
  rm -rf "$layout" "$work/$name-layer.tar"
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$work/$name-layer.tar" .
  umoci init --layout "$layout"
  # The tag is the image's own name: ctr import names what it imports import-DATE:TAG, and archives that
  # share a tag would take that name from one another (the CRI then mis-resolves their image IDs).
  umoci new --image "$layout:$name"
  umoci raw add-layer --image "$layout:$name" "$work/$name-layer.tar"
  umoci config --image "$layout:$name" --author hookrun-e2e "$@"
  umoci gc --layout "$layout"
  tar -C "$layout" -cf "$out/$name.tar.tmp" .
  mv "$out/$name.tar.tmp" "$out/$name.tar"
  echo "$k" > "$out/$name.key"
  rm -rf "$layout" "$work/$name-layer.tar"
}

# busybox_rootfs DIR: busybox-static and a symlink per applet, plus the files most images have.
busybox_rootfs() {
  local d=$1
  rm -rf "$d"
  mkdir -p "$d/bin" "$d/sbin" "$d/usr/bin" "$d/usr/sbin" "$d/etc" "$d/tmp" "$d/root" "$d/proc" "$d/sys" "$d/dev"
  chmod 1777 "$d/tmp"
  cp /bin/busybox "$d/bin/busybox"
  local a
  for a in $(/bin/busybox --list-full); do
    [ -e "$d/$a" ] || ln -s /bin/busybox "$d/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$d/etc/group"
}

mkdir -p "$work"
tsv="$out/images.tsv.tmp"
: > "$tsv"

# pause
k=$(key pause "$busybox_version")
if ! fresh pause "$k"; then
  echo ">> image pause (busybox sleep) as $PAUSE_IMAGE"
  busybox_rootfs "$work/pause-rootfs"
  pack pause "$work/pause-rootfs" "$k" --config.entrypoint /bin/sleep --config.cmd 2147483647
  rm -rf "$work/pause-rootfs"
fi
printf '%s\t%s\n' "$PAUSE_IMAGE" "$out/pause.tar" >> "$tsv"

# busybox
k=$(key busybox "$busybox_version")
if ! fresh busybox "$k"; then
  echo ">> image busybox (busybox-static $busybox_version)"
  busybox_rootfs "$work/busybox-rootfs"
  pack busybox "$work/busybox-rootfs" "$k" --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.cmd /bin/sh
  rm -rf "$work/busybox-rootfs"
fi
for n in docker.io/library/alpine:3.20 docker.io/library/busybox:e2e; do
  printf '%s\t%s\n' "$n" "$out/busybox.tar" >> "$tsv"
done

# debian (debootstrap is slow: its rootfs is kept as well, so a script change only repacks)
k=$(key debian "$suite" "$mirror")
if ! fresh debian "$k"; then
  echo ">> image debian ($suite minbase + git + bash via debootstrap; a few minutes the first time)"
  rootfs="$out/debian-rootfs"
  if [ ! -x "$rootfs/usr/bin/git" ] || [ "$(cat "$out/debian-rootfs.key" 2>/dev/null)" != "$suite $mirror" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=git,bash,ca-certificates "$suite" "$rootfs" "$mirror" > "$out/debootstrap.log" 2>&1 || {
      tail -30 "$out/debootstrap.log" >&2
      exit 1
    }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
      "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    echo "$suite $mirror" > "$out/debian-rootfs.key"
  fi
  pack debian "$rootfs" "$k" --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.cmd /bin/bash
fi
for n in docker.io/alpine/git:2.45.2 docker.io/library/bash:5.1.4 docker.io/library/bash:5.0.18; do
  printf '%s\t%s\n' "$n" "$out/debian.tar" >> "$tsv"
done

# hookrun
k=$(key hookrun "$(sha256sum "$hookrun" | cut -c1-64)" "$(sha256sum "$hookrun_step" | cut -c1-64)")
if ! fresh hookrun "$k"; then
  echo ">> image hookrun ($HOOKRUN_IMAGE)"
  d="$work/hookrun-rootfs"
  rm -rf "$d"
  mkdir -p "$d/usr/local/bin" "$d/etc" "$d/tmp"
  chmod 1777 "$d/tmp"
  cp "$hookrun" "$d/usr/local/bin/hookrun"
  cp "$hookrun_step" "$d/usr/local/bin/hookrun-step"
  printf 'root:x:0:0:root:/root:/sbin/nologin\n' > "$d/etc/passwd"
  pack hookrun "$d" "$k" --config.env PATH=/usr/local/bin --config.entrypoint /usr/local/bin/hookrun
  rm -rf "$d"
fi
printf '%s\t%s\n' "$HOOKRUN_IMAGE" "$out/hookrun.tar" >> "$tsv"

mv "$tsv" "$out/images.tsv"
