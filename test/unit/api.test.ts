import { describe, expect, it } from 'vitest';
import { benchTable, runBench } from '../../src/bench/index.js';
import { computeAttention } from '../../src/api/compute.js';
import { listImplementations } from '../../src/api/implementations.js';
import { ConfigError } from '../../src/config/errors.js';
import * as api from '../../src/index.js';
import { Dilbench } from '../../src/native/dilbench.js';
import { createFakeBinding, denseAttention } from '../helpers/fake-binding.js';

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

describe('public API', () => {
  it('exports runBenchmark, computeAttention and listImplementations', () => {
    expect(typeof api.runBenchmark).toBe('function');
    expect(typeof api.computeAttention).toBe('function');
    expect(typeof api.listImplementations).toBe('function');
  });

  it('listImplementations reports what the binding offers', () => {
    const dilbench = new Dilbench({ binding: createFakeBinding() });
    expect(listImplementations(undefined, { dilbench }).map((i) => i.name)).toEqual([
      'naive',
      'flash',
    ]);
    expect(listImplementations('cuda', { dilbench })).toEqual([]);
  });

  it('computeAttention returns [batch, heads, seqLen, headDim] with grouped kv heads', async () => {
    const binding = createFakeBinding();
    const [batch, heads, kvHeads, seqLen, headDim] = [2, 4, 2, 7, 32];
    const q = randn(batch * heads * seqLen * headDim, 1);
    const k = randn(batch * kvHeads * seqLen * headDim, 2);
    const v = randn(batch * kvHeads * seqLen * headDim, 3);
    const out = await computeAttention({
      implementation: 'flash',
      q,
      k,
      v,
      batch,
      heads,
      kvHeads,
      seqLen,
      headDim,
      causal: true,
      binding,
    });
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(batch * heads * seqLen * headDim);
    const ref = denseAttention(
      {
        implementation: 'flash',
        device: 'cpu',
        dtype: 'fp32',
        batch,
        heads,
        kvHeads,
        seqLen,
        headDim,
        causal: true,
        seed: 0,
      },
      q,
      k,
      v,
    );
    let maxErr = 0;
    for (let i = 0; i < out.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i]! - ref[i]!));
    expect(maxErr).toBeLessThan(1e-5);
    // causal: the first query row sees only key 0, so its output is v[0]
    for (let x = 0; x < headDim; x++) expect(out[x]).toBeCloseTo(v[x]!, 5);
  });

  it('computeAttention names the bad field', async () => {
    const binding = createFakeBinding();
    const base = { implementation: 'naive', batch: 1, heads: 2, seqLen: 4, headDim: 32, binding };
    const ok = new Float32Array(2 * 4 * 32);
    const err = (o: object) =>
      computeAttention(o as Parameters<typeof computeAttention>[0]).then(
        () => Promise.reject(new Error('expected computeAttention to reject')),
        (e: unknown) => e as ConfigError,
      );
    let e = await err({ ...base, q: ok, k: new Float32Array(3), v: ok });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.field).toBe('k');
    expect(e.message).toContain('Float32Array(256)');
    e = await err({ ...base, q: [1, 2], k: ok, v: ok });
    expect(e.field).toBe('q');
    e = await err({ ...base, q: ok, k: ok, v: ok, seqLen: 0 });
    expect(e.field).toBe('seqLen');
    e = await err({ ...base, q: ok, k: ok, v: ok, heads: 2, kvHeads: 3 });
    expect(e.field).toBe('kvHeads');
    e = await err({ ...base, q: ok, k: ok, v: ok, density: 2 });
    expect(e.field).toBe('density');
    e = await err({ ...base, q: ok, k: ok, v: ok, out: new Float32Array(255) });
    expect(e.field).toBe('out');
    expect(e.message).toContain('Float32Array(256)');
    e = await err({ ...base, q: ok, k: ok, v: ok, out: new Float64Array(256) });
    expect(e.field).toBe('out');
    e = await err({ ...base, q: ok, k: ok, v: ok, copyInputs: 'no' });
    expect(e.field).toBe('copyInputs');
    expect(e.message).toContain('true or false');
  });

  it('computeAttention with copyInputs false refuses an out that overlaps q, k or v', async () => {
    const binding = createFakeBinding();
    const base = { implementation: 'naive', batch: 1, heads: 2, seqLen: 4, headDim: 32, binding };
    const n = 2 * 4 * 32;
    const [q, k, v] = [randn(n, 4), randn(n, 5), randn(n, 6)];
    const want = await computeAttention({ ...base, q, k, v });
    const pack = new Float32Array(2 * n);
    const vView = pack.subarray(n - 1, 2 * n - 1);
    vView.set(v);
    const e = await computeAttention({
      ...base,
      q,
      k,
      v: vView,
      out: pack.subarray(0, n), // its last element is v's first
      copyInputs: false,
    }).then(
      () => Promise.reject(new Error('expected computeAttention to reject')),
      (x: unknown) => x as ConfigError,
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.field).toBe('out');
    expect(e.message).toContain('copyInputs');
    // apart from the inputs (the same buffer, after them) it is fine
    const after = new Float32Array(3 * n);
    after.subarray(0, n).set(v);
    const out = after.subarray(n, 2 * n);
    const inPlace = await computeAttention({
      ...base,
      q,
      k,
      v: after.subarray(0, n),
      out,
      copyInputs: false,
    });
    expect(inPlace).toBe(out);
    expect(inPlace).toEqual(want);
    // with the inputs copied, out may be one of them
    expect(await computeAttention({ ...base, q, k, v, out: q })).toBe(q);
    expect(q).toEqual(want);
  });

  it('computeAttention honours an aborted signal', async () => {
    const binding = createFakeBinding();
    const buf = new Float32Array(1 * 1 * 4 * 32);
    const c = new AbortController();
    c.abort();
    await expect(
      computeAttention({
        implementation: 'naive',
        q: buf,
        k: buf,
        v: buf,
        batch: 1,
        heads: 1,
        seqLen: 4,
        headDim: 32,
        binding,
        signal: c.signal,
      }),
    ).rejects.toMatchObject({ code: 'ERR_DILBENCH_CANCELLED' });
  });
});

describe('npm run bench', () => {
  it('measures flash and naive at 1K-8K against the peak', async () => {
    const binding = createFakeBinding({ rate: 80e9 });
    const r = await runBench(binding, { runs: 3 });
    expect(r.peak.fmaGflops).toBe(200);
    expect(r.rows.map((x) => [x.implementation, x.seqLen])).toEqual([
      ['flash', 1024],
      ['flash', 2048],
      ['flash', 4096],
      ['flash', 8192],
      ['naive', 1024],
      ['naive', 2048],
      ['naive', 4096],
      ['naive', 8192],
    ]);
    for (const row of r.rows) {
      expect(row.gflops).toBeGreaterThan(75);
      expect(row.gflops).toBeLessThan(85);
      expect(row.pctOfPeak).toBeCloseTo((100 * row.gflops) / 200, 6);
      expect(row.samples).toBe(3);
    }
    expect(
      binding.sessions.every(
        (p) => p.batch === 1 && p.heads === 8 && p.headDim === 64 && !p.causal,
      ),
    ).toBe(true);
    const table = benchTable(r);
    expect(table).toContain('FP32 FMA peak 200.0 GFLOP/s');
    expect(table).toContain('% of peak');
  });
});
