#!/usr/bin/env node
// npm install hook: use the prebuilt binary shipped in the package when it loads here;
// otherwise build the addon from source with cmake-js (cmake + a C++17 compiler; Node-API
// headers come from the node-api-headers package, so nothing is downloaded).
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');

if (process.env.DILBENCH_FORCE_BUILD !== '1') {
  try {
    const found = require('node-gyp-build').path(root);
    console.log(`dilbench: using ${path.relative(root, found)}`);
    process.exit(0);
  } catch {
    // no loadable binary yet: build below
  }
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'compile', '--out', 'build'];
if (process.env.DILBENCH_CMAKE_ARGS) {
  for (const a of process.env.DILBENCH_CMAKE_ARGS.split(/\s+/).filter(Boolean))
    args.push(`--CD${a.replace(/^-D/, '')}`);
}
console.log('dilbench: no prebuilt binary for this platform; building from source with cmake-js');
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(
    'dilbench: building the native addon failed. It needs cmake >= 3.18 and a C++17 compiler ' +
      '(g++ or clang++). Install them (e.g. `apt-get install cmake g++`) and run `npm rebuild dilbench`.',
  );
  process.exit(r.status ?? 1);
}
