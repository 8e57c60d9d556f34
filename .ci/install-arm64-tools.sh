#!/usr/bin/env bash
# The aarch64 cross compiler, qemu-user and clang, for the NEON checks under emulation
# (test/native/arm64-qemu.test.ts runs scripts/check-arm64.sh; it skips with a printed reason
# without them), the clang build check (scripts/check-clang.sh) and `npm run prebuild:arm64`.
# Debian packages only; about a minute (apt-get update + install: the install of all three took
# 47 s here). Never fails CI: a missing package only turns the tests into skips.
set -u
if command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 && command -v qemu-aarch64 >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1; then
  echo "install-arm64-tools: already installed"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-arm64-tools: not root or no apt-get; the arm64 checks will skip"
  exit 0
fi
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq g++-aarch64-linux-gnu qemu-user clang >/dev/null 2>&1; then
  echo "install-arm64-tools: g++-aarch64-linux-gnu, qemu-user and clang installed in $(( $(date +%s) - t0 )) s"
else
  echo "install-arm64-tools: apt-get failed after $(( $(date +%s) - t0 )) s; the arm64 checks will skip"
fi
exit 0
