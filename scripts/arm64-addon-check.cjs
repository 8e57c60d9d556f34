#!/usr/bin/env node
// Run by an arm64 Node under qemu-aarch64 (scripts/prebuild-arm64.cjs): loads the given
// dilbench.node and checks flash, naive and kv-cache through the addon (compute) against its own
// float64 reference (reference) with the fp32 tolerances of docs/attention-definitions.md
// (max abs 1e-4, relative L2 1e-5). Prints one JSON line; exit 1 on any failure.
//   node scripts/arm64-addon-check.cjs <path/to/dilbench.node>
'use strict';
const b = require(require('node:path').resolve(process.argv[2]));

function randn(n, seed) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

async function main() {
  const info = b.info();
  const options = { threads: 2, useMemoryPool: true, usePatternCache: true, memoryLimitBytes: 0 };
  const cases = [];
  for (const [implementation, causal, headDim] of [
    ['flash', true, 64],
    ['flash', false, 40],
    ['naive', true, 64],
    ['kv-cache', true, 64],
    ['kv-cache', true, 36],
  ]) {
    const problem = {
      implementation,
      device: 'cpu',
      dtype: 'fp32',
      batch: 1,
      heads: 4,
      kvHeads: 2,
      seqLen: 77,
      headDim,
      causal,
      seed: 1,
    };
    if (implementation === 'kv-cache') Object.assign(problem, { promptLen: 60, newTokens: 17 });
    const n = problem.batch * problem.seqLen * headDim;
    const q = randn(n * problem.heads, 1),
      k = randn(n * problem.kvHeads, 2),
      v = randn(n * problem.kvHeads, 3);
    const o = await b.compute(problem, options, q, k, v);
    const ref = await b.reference(problem, q, k, v);
    let maxAbs = 0,
      num = 0,
      den = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = o[i] - ref[i];
      maxAbs = Math.max(maxAbs, Math.abs(d));
      num += d * d;
      den += ref[i] * ref[i];
    }
    const relL2 = Math.sqrt(num / den);
    cases.push({
      implementation,
      causal,
      headDim,
      maxAbs,
      relL2,
      ok: maxAbs <= 1e-4 && relL2 <= 1e-5 && Number.isFinite(maxAbs),
    });
  }
  const ok = cases.every((c) => c.ok);
  console.log(
    JSON.stringify({
      arch: process.arch,
      node: process.version,
      version: info.version,
      simdLevel: info.simdLevel,
      ok,
      cases,
    }),
  );
  process.exit(ok ? 0 : 1);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
