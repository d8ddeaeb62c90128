#!/usr/bin/env bash
# Headless Chromium for the report's browser test, from Debian's package.
#
#   scripts/services/chromium.sh path      print the browser's path (exit 1 when absent)
#   scripts/services/chromium.sh install   install it with apt-get when absent (needs root), then print the path
#
# CHROMIUM_PATH points at another Chromium/Chrome binary.
set -euo pipefail
find_browser() {
  for b in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -n "$b" ] && [ -x "$b" ]; then echo "$b"; return 0; fi
  done
  return 1
}
case "${1:-path}" in
  path) find_browser ;;
  install)
    if find_browser; then exit 0; fi
    if [ "$(id -u)" != 0 ]; then echo "chromium.sh: Chromium is missing; install Debian's 'chromium' package (needs root)" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
    find_browser
    ;;
  *) echo "usage: $0 path|install" >&2; exit 2 ;;
esac
