#!/usr/bin/env bash
# Installs Debian's headless Chromium (and CJK fonts, since the UIs show Chinese labels) for the
# browser tests. Idempotent.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
fi
/usr/bin/chromium --version
