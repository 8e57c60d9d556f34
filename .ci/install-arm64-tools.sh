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
bash "$(dirname "$0")/apt-install.sh" install-arm64-tools "the arm64 checks will skip" g++-aarch64-linux-gnu qemu-user clang
exit 0
