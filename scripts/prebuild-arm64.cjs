#!/usr/bin/env node
// `npm run prebuild:arm64`: the linux-arm64 CPU prebuild, prebuilds/linux-arm64/dilbench.node,
// cross-compiled on an x86-64 machine the way `npm run prebuild` makes the x64 one: prebuildify
// (naming, strip with aarch64-linux-gnu-strip) over cmake-js (scripts/cmake-js-shim.cjs) with
// cmake/aarch64-linux-gnu.cmake as the toolchain. Node-API is ABI-stable and its headers come from
// node-api-headers, so nothing is downloaded. Builds in build-prebuild-arm64/ only.
// Checks that the file is an AArch64 ELF shared object; when DILBENCH_ARM64_NODE_ROOT names a
// root holding an arm64 Node (usr/bin/node, with its libraries; scripts/arm64-node-root.sh makes
// one from Debian's arm64 packages), also loads it under qemu-aarch64 and checks flash, naive and
// kv-cache through it against the float64 reference (scripts/arm64-addon-check.cjs).
// Needs g++-aarch64-linux-gnu (.ci/install-arm64-tools.sh).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const prebuildify = require('prebuildify');

const root = path.join(__dirname, '..');
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
for (const tool of ['aarch64-linux-gnu-g++', 'aarch64-linux-gnu-strip']) {
  if (!has(tool)) {
    console.error(
      `prebuild:arm64: ${tool} not found (apt-get install g++-aarch64-linux-gnu, or bash .ci/install-arm64-tools.sh)`,
    );
    process.exit(3);
  }
}
const stage = path.join(root, 'build-prebuild-arm64');
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });
const toolchain = path.join(root, 'cmake', 'aarch64-linux-gnu.cmake');
// The shim turns these into cmake-js --CD definitions (and adds DILBENCH_CUDA=OFF).
process.env.DILBENCH_CMAKE_ARGS = [
  `-DCMAKE_TOOLCHAIN_FILE=${toolchain}`,
  process.env.DILBENCH_CMAKE_ARGS ?? '',
]
  .join(' ')
  .trim();

prebuildify(
  {
    napi: true,
    strip: true,
    stripBin: 'aarch64-linux-gnu-strip',
    platform: 'linux',
    arch: 'arm64',
    name: 'dilbench',
    cwd: stage,
    out: root, // <root>/prebuilds/linux-arm64/dilbench.node
    nodeGyp: path.join(__dirname, 'cmake-js-shim.cjs'),
    targets: [],
  },
  (err) => {
    if (err) {
      console.error(`prebuild:arm64: ${err.message || err}`);
      process.exit(1);
    }
    const file = path.join(root, 'prebuilds', 'linux-arm64', 'dilbench.node');
    const head = fs.readFileSync(file).subarray(0, 20);
    // ELF magic, 64-bit, little-endian, e_type ET_DYN (3), e_machine EM_AARCH64 (183)
    const elfOk =
      head.readUInt32BE(0) === 0x7f454c46 &&
      head[4] === 2 &&
      head[5] === 1 &&
      head.readUInt16LE(16) === 3 &&
      head.readUInt16LE(18) === 183;
    if (!elfOk) {
      console.error(
        `prebuild:arm64: ${path.relative(root, file)} is not an AArch64 ELF shared object`,
      );
      fs.rmSync(file, { force: true });
      process.exit(1);
    }
    console.log(
      `prebuild:arm64: wrote ${path.relative(root, file)} (${(fs.statSync(file).size / 1e6).toFixed(1)} MB, AArch64 ELF shared object)`,
    );
    const nodeRoot = process.env.DILBENCH_ARM64_NODE_ROOT;
    if (!nodeRoot) {
      console.log(
        'prebuild:arm64: not loaded (set DILBENCH_ARM64_NODE_ROOT to an arm64 Node root; scripts/arm64-node-root.sh makes one)',
      );
      return;
    }
    // flash, naive and kv-cache through the loaded addon vs its float64 reference (fp32 tolerances)
    const r = spawnSync(
      'qemu-aarch64',
      [
        '-L',
        nodeRoot,
        path.join(nodeRoot, 'usr/bin/node'),
        path.join(__dirname, 'arm64-addon-check.cjs'),
        file,
      ],
      {
        encoding: 'utf8',
        timeout: 600_000,
      },
    );
    if (r.status !== 0) {
      console.error(
        `prebuild:arm64: loading under qemu-aarch64 failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`,
      );
      process.exit(1);
    }
    console.log(`prebuild:arm64: loaded under qemu-aarch64: ${r.stdout.trim()}`);
  },
);
