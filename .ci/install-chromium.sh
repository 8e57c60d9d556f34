#!/usr/bin/env bash
# Installs Debian's chromium (/usr/bin/chromium) for the HTML report browser test
# (test/browser). Never fails the build: without chromium that test skips itself with a message.
set -u
if [ -x /usr/bin/chromium ]; then
  echo "install-chromium: /usr/bin/chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get not available; the browser test will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-chromium: not root and no passwordless sudo; the browser test will be skipped" >&2
    exit 0
  fi
fi
echo "install-chromium: installing chromium with apt-get"
if ! $SUDO apt-get update -qq >/tmp/install-chromium.log 2>&1; then
  echo "install-chromium: apt-get update failed (see /tmp/install-chromium.log); continuing" >&2
fi
if DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >>/tmp/install-chromium.log 2>&1 && [ -x /usr/bin/chromium ]; then
  echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || true)"
else
  echo "install-chromium: could not install chromium (see /tmp/install-chromium.log); the browser test will be skipped" >&2
fi
exit 0
