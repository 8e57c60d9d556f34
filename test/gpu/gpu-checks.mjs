// GPU checks shared by test/gpu/cuda.test.ts (vitest, `npm run test:gpu`) and
// test/gpu/run-gpu-checks.mjs (plain Node, for GPU hosts without node_modules). Each check takes
// the CUDA build's binding (require()d directly) and returns plain data; callers assert.
import { existsSync } from 'node:fs';
import path from 'node:path';

export const OPTIONS = { threads: 1, useMemoryPool: true, usePatternCache: true, memoryLimitBytes: 0 };
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
    implementation: 'flash', device: 'cuda', dtype: 'fp16', batch: 1, heads: 2, kvHeads: 2,
    seqLen: 64, headDim: 64, causal: false, seed: 11, ...over,
  };
}

/** Correctness cases: odd lengths, causal and not, grouped-query, every dtype and path. */
export function correctnessCases() {
  const out = [];
  for (const implementation of ['flash', 'naive'])
    for (const dtype of ['fp16', 'bf16', 'fp32'])
      for (const [seqLen, headDim, heads, kvHeads, batch] of [
        [1, 64, 2, 1, 1], [7, 128, 2, 2, 1], [127, 64, 4, 2, 2], [1000, 128, 2, 1, 1], [300, 32, 3, 3, 1],
      ])
        for (const causal of [false, true])
          out.push({ implementation, dtype, seqLen, headDim, heads, kvHeads, batch, causal, seed: 1000 + out.length });
  // kv-cache: prefill (flash over the cached prompt) + split-K decode steps, same rows as dense.
  for (const dtype of ['fp16', 'bf16', 'fp32'])
    for (const [seqLen, promptLen, newTokens, headDim, heads, kvHeads, batch] of [
      [300, 280, 20, 64, 4, 2, 1], [600, 0, 0, 128, 8, 1, 2], [40, 0, 40, 128, 2, 2, 1],
    ])
      for (const causal of [false, true])
        out.push({ implementation: 'kv-cache', dtype, seqLen, promptLen, newTokens, headDim, heads, kvHeads, batch, causal, seed: 1000 + out.length });
  return out;
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
    let num = 0, den = 0, maxAbs = 0, finite = true;
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
    const ok = finite && out.length === ref.length && relL2 <= tol && (c.dtype !== 'fp32' || maxAbs <= 1e-4);
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
    const p = problem({ implementation: 'naive', seqLen: 512, heads: 4, kvHeads: 4, dtype: 'bf16' });
    const s = await b.createSession(p, { ...OPTIONS, useMemoryPool });
    await s.sample(3, false);
    const st = s.poolStats();
    s.dispose();
    const io = 4 * 1 * 4 * 512 * 64 * 2;
    const ws = 1 * 4 * 512 * 512 * 4;
    res.push({
      useMemoryPool, stats: st,
      ok: st.cacheHits + st.cacheMisses === st.allocations && st.peakBytesInUse >= st.bytesInUse &&
        st.peakBytesInUse >= io + ws && st.failedAllocations === 0 && (useMemoryPool ? st.cacheHits >= 1 : true),
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
  await tryIt('naive seqLen 160000 (100 GB of scores)', problem({ implementation: 'naive', seqLen: 160000, heads: 1, kvHeads: 1 }), OPTIONS);
  await tryIt('memoryLimitBytes 1 MiB', problem({ implementation: 'naive', seqLen: 4096 }), { ...OPTIONS, memoryLimitBytes: 1 << 20 });
  const after = await checkCase(b, { implementation: 'flash', dtype: 'fp16', seqLen: 256, headDim: 64, heads: 2, kvHeads: 2, batch: 1, causal: true, seed: 5 });
  return { attempts, after, ok: attempts.every((a) => a.code === 'ERR_DILBENCH_OUT_OF_MEMORY') && after.ok };
}

/** CUDA-event samples against an independent wall clock over many iterations. */
export async function checkTiming(b, iterations = 40) {
  const p = problem({ implementation: 'flash', dtype: 'bf16', batch: 1, heads: 16, kvHeads: 16, seqLen: 16384, headDim: 128 });
  const s = await b.createSession(p, OPTIONS);
  try {
    await s.sample(3, false);  // warm-up
    const t0 = performance.now();
    const ns = await s.sample(iterations, false);
    const wallMs = performance.now() - t0;
    const eventMs = Array.from(ns).reduce((a, x) => a + x, 0) / 1e6;
    const cold = await s.sample(3, true);
    const sorted = Array.from(ns).sort((a, x) => a - x);
    const medianMs = sorted[sorted.length >> 1] / 1e6;
    const tflops = s.plan.flops / (medianMs * 1e-3) / 1e12;
    const ratio = eventMs / wallMs;
    return { iterations, eventMs, wallMs, ratio, medianMs, tflops, coldMs: Array.from(cold).map((x) => x / 1e6), ok: ratio > 0.95 && ratio <= 1.0001 };
  } finally {
    s.dispose();
  }
}
