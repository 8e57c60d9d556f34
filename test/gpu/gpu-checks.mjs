// GPU checks shared by test/gpu/cuda.test.ts (vitest, `npm run test:gpu`) and
// test/gpu/run-gpu-checks.mjs (plain Node, for GPU hosts without node_modules). Each check takes
// the CUDA build's binding (require()d directly) and returns plain data; callers assert.
import { existsSync } from 'node:fs';
import path from 'node:path';

export const OPTIONS = {
  threads: 1,
  useMemoryPool: true,
  usePatternCache: true,
  memoryLimitBytes: 0,
};
export const TOL = { fp32: 1e-5, fp16: 2e-3, bf16: 1e-2 };

/** The CUDA variant in a checkout or an installed package, or null. */
export function findCudaBinary(root) {
  const target = `${process.platform}-${process.arch}`;
  for (const p of [
    path.join(root, 'build-cuda', 'Release', 'dilbench.node'),
    path.join(root, 'variants', 'cuda', 'prebuilds', target, 'dilbench.node'),
  ]) {
    if (existsSync(p)) return p;
  }
  return null;
}

export function problem(over) {
  return {
    implementation: 'flash',
    device: 'cuda',
    dtype: 'fp16',
    batch: 1,
    heads: 2,
    kvHeads: 2,
    seqLen: 64,
    headDim: 64,
    causal: false,
    seed: 11,
    ...over,
  };
}

/** Correctness cases: odd lengths, causal and not, grouped-query, every dtype and path. */
export function correctnessCases() {
  const out = [];
  for (const implementation of ['flash', 'naive'])
    for (const dtype of ['fp16', 'bf16', 'fp32'])
      for (const [seqLen, headDim, heads, kvHeads, batch] of [
        [1, 64, 2, 1, 1],
        [7, 128, 2, 2, 1],
        [127, 64, 4, 2, 2],
        [1000, 128, 2, 1, 1],
        [300, 32, 3, 3, 1],
      ])
        for (const causal of [false, true])
          out.push({
            implementation,
            dtype,
            seqLen,
            headDim,
            heads,
            kvHeads,
            batch,
            causal,
            seed: 1000 + out.length,
          });
  // kv-cache: prefill (flash over the cached prompt) + split-K decode steps, same rows as dense.
  for (const dtype of ['fp16', 'bf16', 'fp32'])
    for (const [seqLen, promptLen, newTokens, headDim, heads, kvHeads, batch] of [
      [300, 280, 20, 64, 4, 2, 1],
      [600, 0, 0, 128, 8, 1, 2],
      [40, 0, 40, 128, 2, 2, 1],
    ])
      for (const causal of [false, true])
        out.push({
          implementation: 'kv-cache',
          dtype,
          seqLen,
          promptLen,
          newTokens,
          headDim,
          heads,
          kvHeads,
          batch,
          causal,
          seed: 1000 + out.length,
        });
  for (const c of familyCases()) out.push({ ...c, seed: 1000 + out.length });
  return out;
}

// Shapes of the attention family on the GPU (dilated, dilated-grouped, ring, ring-dilated,
// block-sparse): odd lengths, segments that do not divide the length, rates that do not divide
// the segment, grouped-query, every ring size kind (1, even, odd, P = seqLen), every block
// pattern and block sizes that do not divide the length; each causal and not, in every dtype.
const PAIRS3 = { segmentLengths: [128, 256, 1000], dilationRates: [1, 2, 4] };
const PAIRS2 = { segmentLengths: [100, 333], dilationRates: [3, 7] };
const FAMILY_SHAPES = [
  {
    implementation: 'dilated',
    seqLen: 1000,
    headDim: 64,
    heads: 4,
    kvHeads: 2,
    batch: 1,
    ...PAIRS3,
  },
  { implementation: 'dilated', seqLen: 333, headDim: 128, heads: 3, kvHeads: 3, batch: 2 }, // default pairs, shrunk
  {
    implementation: 'dilated',
    seqLen: 100,
    headDim: 32,
    heads: 8,
    kvHeads: 1,
    batch: 1,
    segmentLengths: [10, 37],
    dilationRates: [4, 2],
  },
  {
    implementation: 'dilated-grouped',
    seqLen: 1000,
    headDim: 64,
    heads: 5,
    kvHeads: 5,
    batch: 1,
    ...PAIRS3,
  },
  {
    implementation: 'dilated-grouped',
    seqLen: 300,
    headDim: 96,
    heads: 2,
    kvHeads: 1,
    batch: 1,
    ...PAIRS3,
  },
  {
    implementation: 'ring',
    seqLen: 1000,
    headDim: 64,
    heads: 4,
    kvHeads: 2,
    batch: 1,
    ringSize: 4,
  },
  {
    implementation: 'ring',
    seqLen: 333,
    headDim: 128,
    heads: 2,
    kvHeads: 1,
    batch: 2,
    ringSize: 3,
  },
  { implementation: 'ring', seqLen: 7, headDim: 32, heads: 2, kvHeads: 2, batch: 1, ringSize: 7 },
  { implementation: 'ring', seqLen: 129, headDim: 64, heads: 2, kvHeads: 2, batch: 1, ringSize: 1 },
  {
    implementation: 'ring-dilated',
    seqLen: 1000,
    headDim: 64,
    heads: 4,
    kvHeads: 2,
    batch: 1,
    ringSize: 4,
    ...PAIRS3,
  },
  {
    implementation: 'ring-dilated',
    seqLen: 333,
    headDim: 96,
    heads: 3,
    kvHeads: 3,
    batch: 1,
    ringSize: 3,
    ...PAIRS2,
  },
  {
    implementation: 'block-sparse',
    seqLen: 1000,
    headDim: 64,
    heads: 4,
    kvHeads: 2,
    batch: 1,
    blockPattern: 'local',
    blockSize: 64,
    window: 3,
  },
  {
    implementation: 'block-sparse',
    seqLen: 333,
    headDim: 128,
    heads: 2,
    kvHeads: 2,
    batch: 1,
    blockPattern: 'strided',
    blockSize: 33,
    stride: 3,
  },
  {
    implementation: 'block-sparse',
    seqLen: 1000,
    headDim: 64,
    heads: 2,
    kvHeads: 1,
    batch: 2,
    blockPattern: 'dilated',
    blockSize: 100,
    window: 3,
    stride: 2,
  },
  {
    implementation: 'block-sparse',
    seqLen: 1000,
    headDim: 32,
    heads: 3,
    kvHeads: 3,
    batch: 1,
    blockPattern: 'random',
    blockSize: 16,
    density: 0.2,
  },
];

export function familyCases() {
  const out = [];
  for (const dtype of ['fp16', 'bf16', 'fp32'])
    for (const shape of FAMILY_SHAPES)
      for (const causal of [false, true]) out.push({ ...shape, dtype, causal });
  return out;
}

/** One line naming a case: implementation, dtype, shape and the implementation's parameters. */
export function describeCase(c) {
  const extra = [];
  if (c.segmentLengths)
    extra.push(`pairs ${c.segmentLengths.map((w, i) => `${w}/${c.dilationRates[i]}`).join(',')}`);
  if (c.ringSize) extra.push(`P=${c.ringSize}`);
  if (c.blockPattern) extra.push(`${c.blockPattern} bs=${c.blockSize}`);
  if (c.promptLen !== undefined) extra.push(`prompt=${c.promptLen} new=${c.newTokens}`);
  return `${c.implementation} ${c.dtype} b${c.batch} h${c.heads}/${c.kvHeads} n${c.seqLen} d${c.headDim} ${c.causal ? 'causal' : 'full'}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

/** Plans of the family kernels on CUDA against the CPU's (no GPU needed: plan() only validates
 * and counts): the same flops, bytes in the run's dtype, exactly the workspace of the lse (+ fp32
 * accumulator unless fp32) in pool size classes; unsupported parameters refused naming the field. */
/** MemoryPool::sizeClass (native/core/memory_pool.cpp): what the pool hands out for a request. */
export function poolSizeClass(bytes) {
  if (bytes <= 64) return 64;
  if (bytes <= 4096) {
    let c = 64;
    while (c < bytes) c *= 2;
    return c;
  }
  let n = 0; // floor(log2(bytes - 1))
  while (2 ** (n + 1) <= bytes - 1) n++;
  const step = 2 ** (n - 2);
  return Math.ceil(bytes / step) * step;
}

export function checkFamilyPlans(b) {
  const res = [];
  const elem = { fp32: 4, fp16: 2, bf16: 2 };
  for (const c of familyCases()) {
    const p = problem(c);
    const cuda = b.plan(p, OPTIONS);
    const cpu = b.plan({ ...p, device: 'cpu', dtype: 'fp32' }, OPTIONS);
    const rows = p.batch * p.heads * p.seqLen;
    const q = rows * p.headDim,
      kv = p.batch * p.kvHeads * p.seqLen * p.headDim;
    // lse2 per row, plus the fp32 accumulator unless the output is fp32; block-sparse: nothing.
    const ws =
      p.implementation === 'block-sparse'
        ? 0
        : poolSizeClass(rows * 4) + (p.dtype === 'fp32' ? 0 : poolSizeClass(q * 4));
    const ok =
      cuda.flops === cpu.flops &&
      cuda.flops > 0 &&
      cuda.bytesMoved === elem[p.dtype] * (2 * q + 2 * kv) &&
      cuda.workspaceBytes === ws &&
      cuda.effectiveSeqLen === p.seqLen;
    res.push({
      case: describeCase(c),
      ok,
      cuda: { flops: cuda.flops, ws: cuda.workspaceBytes },
      cpuFlops: cpu.flops,
    });
  }
  const refusals = [
    [{ implementation: 'dilated', headDim: 48 }, 'headDim'],
    [{ implementation: 'ring', seqLen: 1000, ringSize: 300 }, 'ringSize'],
    [{ implementation: 'ring-dilated', seqLen: 100, ringSize: 101 }, 'ringSize'],
    [{ implementation: 'dilated', segmentLengths: [64], dilationRates: [65] }, 'dilationRates'],
    [{ implementation: 'block-sparse', blockPattern: 'diagonal' }, 'blockPattern'],
  ];
  for (const [over, field] of refusals) {
    let err = null;
    try {
      b.plan(problem(over), OPTIONS);
    } catch (e) {
      err = e;
    }
    res.push({
      case: `refuses ${JSON.stringify(over)}`,
      ok: err?.code === 'ERR_DILBENCH_INVALID_CONFIG' && err?.field === field,
      error: String(err?.message),
    });
  }
  return res;
}

/** Telemetry of the family on the GPU: ring / ring-dilated per (step, rank) times from CUDA events
 * (all > 0) and bytes sent = the CPU kernel's scaled to the dtype; block-sparse sparsity = the
 * CPU kernel's. */
export async function checkFamilyTelemetry(b) {
  const res = [];
  const cases = [
    { implementation: 'ring', seqLen: 1024, ringSize: 4, causal: true, heads: 4, kvHeads: 2 },
    {
      implementation: 'ring-dilated',
      seqLen: 1000,
      ringSize: 3,
      causal: false,
      heads: 4,
      kvHeads: 2,
      ...PAIRS3,
    },
    {
      implementation: 'block-sparse',
      seqLen: 1000,
      causal: true,
      blockPattern: 'random',
      blockSize: 32,
      density: 0.2,
    },
  ];
  for (const c of cases) {
    const p = problem({ ...c, dtype: 'fp16' });
    const g = await b.createSession(p, OPTIONS);
    const cpuSession = await b.createSession({ ...p, device: 'cpu', dtype: 'fp32' }, OPTIONS);
    try {
      await g.sample(2, false);
      await cpuSession.sample(1, false);
      const tg = g.telemetry(),
        tc = cpuSession.telemetry();
      let ok = !!tg && !!tc;
      if (ok && c.ringSize) {
        ok =
          tg.ringSize === c.ringSize &&
          tg.stepRankNs.every((row) => row.every((ns) => ns > 0)) &&
          tg.stepRankBytesSent.every((row, t) =>
            row.every((bytes, r) => bytes * 2 === tc.stepRankBytesSent[t][r]),
          );
      }
      if (ok && c.blockPattern)
        ok =
          tg.blocksComputed === tc.blocksComputed &&
          tg.blocksTotal === tc.blocksTotal &&
          tg.sparsity === tc.sparsity;
      res.push({ case: describeCase({ ...p }), ok, gpu: tg, cpu: tc });
    } finally {
      g.dispose();
      cpuSession.dispose();
    }
  }
  return res;
}

/** dilated at fixed pairs, 128K..1M tokens: time per token stays flat (linear in seqLen) and so
 * does the planned memory per token. */
export async function checkDilatedScaling(b, lengths = [131072, 262144, 524288, 1048576]) {
  const rows = [];
  for (const seqLen of lengths) {
    const p = problem({
      implementation: 'dilated',
      dtype: 'fp16',
      heads: 2,
      kvHeads: 2,
      headDim: 64,
      seqLen,
      segmentLengths: [2048, 8192, 32768],
      dilationRates: [1, 4, 16],
    });
    const s = await b.createSession(p, OPTIONS);
    try {
      await s.sample(1, false);
      const ns = Array.from(await s.sample(5, false)).sort((a, x) => a - x);
      const median = ns[2];
      rows.push({
        seqLen,
        medianMs: median / 1e6,
        nsPerToken: median / seqLen,
        planBytesPerToken: s.plan.totalBytes / seqLen,
        tflops: s.plan.flops / (median * 1e-9) / 1e12,
      });
    } finally {
      s.dispose();
    }
  }
  const per = rows.map((r) => r.nsPerToken);
  const spread = Math.max(...per) / Math.min(...per);
  const mem = rows.map((r) => r.planBytesPerToken);
  const memSpread = Math.max(...mem) / Math.min(...mem);
  return { rows, spread, memSpread, ok: spread < 1.5 && memSpread < 1.3 };
}

/** Runs a session (seeded device inputs), compares its output with the float64 reference of the
 * same (dtype-rounded) inputs. */
export async function checkCase(b, c) {
  const p = problem(c);
  const s = await b.createSession(p, OPTIONS);
  try {
    const [q, k, v] = [s.input('q'), s.input('k'), s.input('v')];
    const out = await s.output();
    const ref = await b.reference(p, q, k, v);
    let num = 0,
      den = 0,
      maxAbs = 0,
      finite = true;
    for (let i = 0; i < ref.length; i++) {
      const o = out[i];
      if (!Number.isFinite(o)) finite = false;
      const d = o - ref[i];
      num += d * d;
      den += ref[i] * ref[i];
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
    const relL2 = Math.sqrt(num / Math.max(den, 1e-300));
    const tol = TOL[c.dtype];
    const ok =
      finite && out.length === ref.length && relL2 <= tol && (c.dtype !== 'fp32' || maxAbs <= 1e-4);
    return { ...c, relL2, maxAbs, finite, tol, ok };
  } finally {
    s.dispose();
  }
}

/** Pool statistics after runs: hits + misses = allocations, peak >= in use, naive's peak holds
 * its seqLen^2 workspace; the pool-off path works. */
export async function checkPool(b) {
  const res = [];
  for (const useMemoryPool of [true, false]) {
    const p = problem({
      implementation: 'naive',
      seqLen: 512,
      heads: 4,
      kvHeads: 4,
      dtype: 'bf16',
    });
    const s = await b.createSession(p, { ...OPTIONS, useMemoryPool });
    await s.sample(3, false);
    const st = s.poolStats();
    s.dispose();
    const io = 4 * 1 * 4 * 512 * 64 * 2;
    const ws = 1 * 4 * 512 * 512 * 4;
    res.push({
      useMemoryPool,
      stats: st,
      ok:
        st.cacheHits + st.cacheMisses === st.allocations &&
        st.peakBytesInUse >= st.bytesInUse &&
        st.peakBytesInUse >= io + ws &&
        st.failedAllocations === 0 &&
        (useMemoryPool ? st.cacheHits >= 1 : true),
    });
  }
  return res;
}

/** Out-of-memory becomes a coded error; the GPU stays usable for the next point. */
export async function checkOom(b) {
  const attempts = [];
  const tryIt = async (label, p, opts) => {
    try {
      const s = await b.createSession(p, opts);
      await s.sample(1, false);
      s.dispose();
      attempts.push({ label, code: 'none' });
    } catch (e) {
      attempts.push({ label, code: e.code, message: String(e.message).slice(0, 160) });
    }
  };
  await tryIt(
    'naive seqLen 160000 (100 GB of scores)',
    problem({ implementation: 'naive', seqLen: 160000, heads: 1, kvHeads: 1 }),
    OPTIONS,
  );
  await tryIt('memoryLimitBytes 1 MiB', problem({ implementation: 'naive', seqLen: 4096 }), {
    ...OPTIONS,
    memoryLimitBytes: 1 << 20,
  });
  const after = await checkCase(b, {
    implementation: 'flash',
    dtype: 'fp16',
    seqLen: 256,
    headDim: 64,
    heads: 2,
    kvHeads: 2,
    batch: 1,
    causal: true,
    seed: 5,
  });
  return {
    attempts,
    after,
    ok: attempts.every((a) => a.code === 'ERR_DILBENCH_OUT_OF_MEMORY') && after.ok,
  };
}

/** CUDA-event samples against an independent wall clock over many iterations. */
export async function checkTiming(b, iterations = 40) {
  const p = problem({
    implementation: 'flash',
    dtype: 'bf16',
    batch: 1,
    heads: 16,
    kvHeads: 16,
    seqLen: 16384,
    headDim: 128,
  });
  const s = await b.createSession(p, OPTIONS);
  try {
    await s.sample(3, false); // warm-up
    const t0 = performance.now();
    const ns = await s.sample(iterations, false);
    const wallMs = performance.now() - t0;
    const eventMs = Array.from(ns).reduce((a, x) => a + x, 0) / 1e6;
    const cold = await s.sample(3, true);
    const sorted = Array.from(ns).sort((a, x) => a - x);
    const medianMs = sorted[sorted.length >> 1] / 1e6;
    const tflops = s.plan.flops / (medianMs * 1e-3) / 1e12;
    const ratio = eventMs / wallMs;
    return {
      iterations,
      eventMs,
      wallMs,
      ratio,
      medianMs,
      tflops,
      coldMs: Array.from(cold).map((x) => x / 1e6),
      ok: ratio > 0.95 && ratio <= 1.0001,
    };
  } finally {
    s.dispose();
  }
}
