#!/usr/bin/env bash
# Shared by the .ci/install-*.sh scripts: installs Debian packages for optional test tools.
#   bash .ci/apt-install.sh NAME "WHAT IS SKIPPED WITHOUT THEM" PACKAGE...
# Root or passwordless sudo, apt-get update then install, the log in /tmp/NAME.log. Never fails:
# exit 0 when installed, 1 when not (the caller's tests then skip with their reason).
set -u
name=$1; skipped=$2; shift 2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$name: apt-get not available; $skipped" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "$name: not root and no passwordless sudo; $skipped" >&2
    exit 1
  fi
fi
t0=$(date +%s)
echo "$name: installing $* with apt-get"
if ! $SUDO apt-get update -qq >"/tmp/$name.log" 2>&1; then
  echo "$name: apt-get update failed (see /tmp/$name.log); continuing" >&2
fi
if DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >>"/tmp/$name.log" 2>&1; then
  echo "$name: installed in $(( $(date +%s) - t0 )) s"
  exit 0
fi
echo "$name: could not install $* (see /tmp/$name.log); $skipped" >&2
exit 1
