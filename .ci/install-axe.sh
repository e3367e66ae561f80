#!/usr/bin/env bash
# Installs axe-core (the accessibility checker the browser tests run inside Chromium) from the npm
# registry into target/ci-tools, where tests/web_ui.rs looks for it (or set AXE_CORE_JS to an
# axe.min.js elsewhere). Needs node and npm; installs them from Debian when missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.14.1
DEST=target/ci-tools
if [ -f "$DEST/node_modules/axe-core/axe.min.js" ] \
  && grep -q "\"version\": \"$VERSION\"" "$DEST/node_modules/axe-core/package.json"; then
  echo "axe-core $VERSION already in $DEST"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$DEST"
npm install --prefix "$DEST" --no-audit --no-fund --no-save --silent "axe-core@$VERSION"
test -f "$DEST/node_modules/axe-core/axe.min.js"
echo "axe-core $VERSION installed in $DEST"
