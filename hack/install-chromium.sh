#!/usr/bin/env bash
# Installs Debian's chromium when /usr/bin/chromium is missing: the dashboard tests (dashboard/) drive it
# headless through chromedp. Needs root (or passwordless sudo) the first time; touches nothing else.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "install-chromium: /usr/bin/chromium is missing and installing it needs root: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
echo ">> installing Debian's chromium for the dashboard's browser tests"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium
