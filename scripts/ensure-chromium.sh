#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through playwright-core, which downloads nothing.
# Installs it when it is missing and this user may; otherwise says what to do.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  exit 0
fi

echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2
exit 1
