#!/usr/bin/env bash
# Installs Debian's chromium (/usr/bin/chromium) for the HTML-report browser test
# (test/browser). Never fails the build: without chromium that test skips itself with a message.
set -u
if [ -x /usr/bin/chromium ]; then
  echo "install-chromium: /usr/bin/chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" install-chromium "the browser test will be skipped" chromium && [ -x /usr/bin/chromium ] \
  && echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || true)"
exit 0
