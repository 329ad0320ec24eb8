#!/usr/bin/env bash
# Installs Debian's busybox-static when no busybox is on PATH: hookrun's node agent runs a step image's sh
# and ash with the host's busybox (as alpine and busybox images would), and make test-upstream-examples
# compares with Tekton's e2e on that basis (with bash standing in, scripts that rely on ash's behaviour
# differ). Needs root (or passwordless sudo) the first time; touches nothing else. Without either it only
# warns: the node agent then falls back to bash.
set -euo pipefail
if command -v busybox >/dev/null 2>&1; then
  exit 0
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "install-busybox: no busybox on PATH and installing it needs root (sudo apt-get install busybox-static);" \
      "the node agent runs sh/ash scripts with bash instead" >&2
    exit 0
  fi
fi
echo ">> installing Debian's busybox-static: the node agent's sh and ash"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends busybox-static
