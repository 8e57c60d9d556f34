#!/usr/bin/env bash
# An arm64 Node to load the linux-arm64 prebuild under qemu-aarch64 (npm run prebuild:arm64 with
# DILBENCH_ARM64_NODE_ROOT=build-arm64-node/root). Debian's nodejs:arm64 cannot be installed
# beside this machine's nodejs:amd64 (the package is not Multi-Arch: same, so apt would remove
# the x64 Node), so the arm64 packages are only downloaded (apt-get download) and unpacked into
# build-arm64-node/root with dpkg-deb -x; nothing is installed. That Node is Debian 12's 18.20
# (Node-API 9): enough to load a Node-API 8 addon, though dilbench itself asks for Node >= 20.17.
# Needs root (apt) and qemu-user; adds the arm64 dpkg architecture for the download and removes
# it again when it was not there before.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-arm64-node
added=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  added=1
fi
cleanup() { if [ "$added" = 1 ]; then dpkg --remove-architecture arm64 || true; fi; }
trap cleanup EXIT
apt-get update -qq
rm -rf "$out"
mkdir -p "$out/debs" "$out/root"
chmod 777 "$out/debs"  # apt-get download runs as _apt where it can
(cd "$out/debs" && apt-get download -qq nodejs:arm64 libnode108:arm64 libbrotli1:arm64 libc-ares2:arm64 \
  libicu72:arm64 libnghttp2-14:arm64 libssl3:arm64 libuv1:arm64 zlib1g:arm64 libc6:arm64 libstdc++6:arm64 \
  libgcc-s1:arm64 node-acorn node-cjs-module-lexer node-undici)
for d in "$out"/debs/*.deb; do dpkg-deb -x "$d" "$out/root"; done
echo "arm64-node-root: $(qemu-aarch64 -L "$out/root" "$out/root/usr/bin/node" -p 'process.arch + " Node " + process.version + ", Node-API " + process.versions.napi') in $out/root"
