#!/usr/bin/env node
// What running a plugin costs beyond its own work (issue 15; the README quotes the output):
//  1. C ABI plugin, isolated in the worker process: each sample() is timed inside the worker by
//     the native timer, so the samples carry no IPC; the wall-clock overhead per sample() call
//     (request + reply) is measured here, against the same call on an in-process session, and the
//     plugin's samples in the worker against the same kernel's samples in this process.
//  2. Python callable: median per-call time of a tiny SDPA through dilbench's Python path
//     (perf_counter_ns around fn(q, k, v, causal=..., scale=...) in the worker) against the same
//     F.scaled_dot_product_attention call timed by a plain Python loop.
// Usage: node scripts/plugin-overhead.mjs <libdilbench_c_dense.so> [python]   (after npm run build:ts)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { loadBinding } = await import(path.join(root, 'dist/src/native/dilbench.js'));
const { preparePlugins } = await import(path.join(root, 'dist/src/plugins/index.js'));
const [lib, python = process.env.DILBENCH_PYTHON || 'python3'] = process.argv.slice(2);
if (!lib)
  throw new Error('usage: node scripts/plugin-overhead.mjs <libdilbench_c_dense.so> [python]');
process.env.DILBENCH_PYTHON = python;
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
const CALLS = 300;
const tiny = {
  device: 'cpu',
  dtype: 'fp32',
  batch: 1,
  heads: 1,
  kvHeads: 1,
  seqLen: 16,
  headDim: 16,
  causal: false,
  seed: 1,
};
const opts = { threads: 1, useMemoryPool: true, usePatternCache: true, memoryLimitBytes: 0 };
const sdpa = `${path.join(root, 'examples/plugins/python/sdpa_attention.py')}:attention`;

const base = loadBinding();
const plugins = await preparePlugins([lib, sdpa], base, { timeLimitSeconds: 60, threads: 1 });
const b = plugins.binding;
async function perCall(session) {
  const wallUs = [];
  const sampleUs = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = process.hrtime.bigint();
    const s = await session.sample(1, false);
    wallUs.push(Number(process.hrtime.bigint() - t0) / 1e3);
    sampleUs.push(s[0] / 1e3);
  }
  return {
    wallUs: median(wallUs),
    sampleUs: median(sampleUs),
    overheadUs: median(wallUs.map((w, i) => w - sampleUs[i])),
  };
}
const report = {};
try {
  const inProcess = await b.createSession({ ...tiny, implementation: 'naive' }, opts);
  report.inProcessNaive = await perCall(inProcess);
  inProcess.dispose();
  const worker = await b.createSession({ ...tiny, implementation: 'c-dense' }, opts);
  report.workerCDense = await perCall(worker);
  worker.dispose();
  // the same plugin kernel run in this process (base binding, no isolation): its samples against
  // the worker's show what isolation adds inside a sample (nothing is expected)
  const local = await base.createSession({ ...tiny, implementation: 'c-dense' }, opts);
  report.inProcessCDense = await perCall(local);
  local.dispose();
  const py = await b.createSession({ ...tiny, implementation: 'torch-sdpa' }, opts);
  const s = await py.sample(CALLS, false);
  report.pythonPathSdpaUs = median(Array.from(s)) / 1e3;
  py.dispose();
} finally {
  plugins.close();
}
const direct = spawnSync(
  python,
  [
    '-c',
    `
import time, torch, torch.nn.functional as F
torch.set_num_threads(1); torch.set_grad_enabled(False)
g = torch.Generator().manual_seed(1)
q, k, v = (torch.randn(1, 1, 16, 16, generator=g) for _ in range(3))
ns = []
for _ in range(${CALLS} + 20):
    t0 = time.perf_counter_ns(); F.scaled_dot_product_attention(q, k, v, is_causal=False, scale=None); ns.append(time.perf_counter_ns() - t0)
ns = sorted(ns[20:]); print(ns[len(ns) // 2] / 1e3)
`,
  ],
  { encoding: 'utf8' },
);
if (direct.status !== 0) throw new Error(direct.stderr);
report.directPythonSdpaUs = Number(direct.stdout.trim());
report.pythonPathOverheadUs = report.pythonPathSdpaUs - report.directPythonSdpaUs;
console.log(JSON.stringify(report, null, 2));
