#!/usr/bin/env node
// `npm run prebuild`: the CPU prebuild, prebuilds/<platform>-<arch>/dilbench.node, made by prebuildify
// (naming, strip) over cmake-js (scripts/cmake-js-shim.cjs stands in for node-gyp).
//
// It always configures afresh in its own folder, build-prebuild/, so neither the developer's build/
// (whose CMakeCache.txt may say DILBENCH_CUDA=AUTO: a cache keeps what it was configured with) nor
// build/Release/dilbench.node (prebuildify moves the file it finds) is touched, and the prebuild
// is the CPU build whatever build/ holds. The CUDA build ships separately (npm run prebuild:cuda).
// Extra CMake definitions: DILBENCH_CMAKE_ARGS="-D..." (DILBENCH_CUDA=OFF unless given there).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const prebuildify = require('prebuildify');

const root = path.join(__dirname, '..');
const stage = path.join(root, 'build-prebuild');
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });

prebuildify(
  {
    napi: true,
    strip: true,
    name: 'dilbench',
    cwd: stage, // prebuildify runs the shim here and takes the .node from <stage>/build/Release
    out: root, // and writes <root>/prebuilds/<platform>-<arch>/dilbench.node
    nodeGyp: path.join(__dirname, 'cmake-js-shim.cjs'),
    targets: [],
  },
  (err) => {
    if (err) {
      console.error(`prebuild: ${err.message || err}`);
      process.exit(1);
    }
    const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    const file = path.join(dir, 'dilbench.node');
    const info = require(file).info();
    console.log(
      `prebuild: wrote ${path.relative(root, file)} (${(fs.statSync(file).size / 1e6).toFixed(1)} MB; CUDA compiled in: ${info.cuda?.compiled ? 'yes' : 'no'})`,
    );
    if (info.cuda?.compiled && !/DILBENCH_CUDA=ON/.test(process.env.DILBENCH_CMAKE_ARGS ?? '')) {
      console.error('prebuild: the CPU prebuild has CUDA compiled in; refusing to ship it');
      fs.rmSync(file, { force: true });
      process.exit(1);
    }
  },
);
