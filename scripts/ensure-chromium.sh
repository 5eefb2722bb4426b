#!/usr/bin/env bash
# The browser test drives Debian's Chromium (no browser download). Install it when missing and
# we are allowed to (root, or passwordless sudo); otherwise say how, and the browser test will skip.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "ensure-chromium: Chromium is not installed and I cannot install it (not root)."
  echo "  Run: sudo apt-get install -y chromium   -- until then the browser test is skipped."
  exit 0
fi
echo ">>> Installing Debian's chromium for the browser test"
$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null \
  && echo ">>> chromium installed: $(chromium --version 2>/dev/null)" \
  || echo "ensure-chromium: apt-get install chromium failed; the browser test will skip."
