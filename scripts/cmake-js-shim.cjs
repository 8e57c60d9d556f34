#!/usr/bin/env node
// node-gyp stand-in for prebuildify (`prebuildify --napi --strip --node-gyp scripts/cmake-js-shim.cjs`).
// prebuildify runs `<node-gyp> rebuild --target=<v> --devdir=<dir> --arch=<arch> --release|--debug`
// and then takes the first *.node file in build/Release (or build/Debug). This shim maps that onto
// cmake-js over the sources in the repository root, building in <cwd>/build (prebuildify's cwd:
// scripts/prebuild.cjs points it at build-prebuild/), which writes build/<Config>/dilbench.node.
// `rebuild` configures afresh, so the definitions below always apply (an existing CMakeCache.txt
// would otherwise keep what it was configured with, e.g. DILBENCH_CUDA=AUTO). The addon is
// Node-API only (headers from node-api-headers), so --target and --devdir need nothing
// downloaded and are ignored. Extra CMake definitions: DILBENCH_CMAKE_ARGS="-DDILBENCH_CUDA=OFF ...".
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const argv = process.argv.slice(2);

let command = 'rebuild';
let debug = false;
let arch;
const ignored = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (!a.startsWith('-')) {
    command = a;
    continue;
  }
  const [flag, inlineValue] = a.includes('=')
    ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
    : [a, undefined];
  // node-gyp style flags that take a value may also come as "--flag value"
  const takeValue = () => (inlineValue !== undefined ? inlineValue : argv[++i]);
  switch (flag) {
    case '--debug':
      debug = true;
      break;
    case '--release':
      debug = false;
      break;
    case '--arch':
      arch = takeValue();
      break;
    case '--target':
    case '--devdir':
    case '--runtime':
    case '--dist-url':
    case '--build_v8_with_gn':
      ignored.push(`${flag}=${takeValue()}`);
      break;
    default:
      ignored.push(a);
  }
}

if (!['rebuild', 'build', 'configure', 'install'].includes(command)) {
  if (command === 'clean') {
    const r = spawnSync(
      process.execPath,
      [
        require.resolve('cmake-js/bin/cmake-js'),
        'clean',
        '--directory',
        root,
        '--out',
        path.join(process.cwd(), 'build'),
      ],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
    process.exit(r.status ?? 1);
  }
  console.error(
    `cmake-js-shim: unsupported command '${command}' (expected rebuild, build, configure or clean)`,
  );
  process.exit(2);
}

const outDir = path.join(process.cwd(), 'build');
const args = [
  require.resolve('cmake-js/bin/cmake-js'),
  command === 'build' ? 'compile' : 'rebuild',
  '--directory',
  root,
  '--out',
  outDir,
];
if (debug) args.push('--debug');
if (arch) args.push('--arch', arch);
const extra = (process.env.DILBENCH_CMAKE_ARGS ?? '').split(/\s+/).filter(Boolean);
// prebuilds/<platform>/ is the CPU build; the CUDA build ships as a variant
// (npm run prebuild:cuda -> variants/cuda/prebuilds/), so CUDA is off here unless asked for.
if (!extra.some((d) => /DILBENCH_CUDA=/.test(d))) extra.push('-DDILBENCH_CUDA=OFF');
for (const d of extra) args.push(`--CD${d.replace(/^-D/, '')}`);
if (ignored.length)
  console.log(
    `cmake-js-shim: ignoring ${ignored.join(' ')} (Node-API build, no headers to download)`,
  );
console.log(`cmake-js-shim: cmake-js ${args.slice(1).join(' ')}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.error) {
  console.error(`cmake-js-shim: could not run cmake-js: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
