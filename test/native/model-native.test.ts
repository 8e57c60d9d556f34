// Native transformer models (issue 7): forward logits against a float64 reference forward written
// here from the same explicit weights, cached == uncached greedy generation, encoder and
// encoder-decoder shapes, coded errors for bad configs / tensors, cancellation.
import { describe, expect, it } from 'vitest';

import { ErrorCodes, type NativeBinding } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/loader.js';
import type { ModelBinding, ModelConfig, ModelWeights } from '../../src/native/model-binding.js';
import { catchAsync, expectCoded, randomNormal } from './helpers.js';

const native = loadBinding() as NativeBinding & ModelBinding;
const threads = 2;

type Tensors = Record<string, { shape: number[]; data: Float32Array }>;

const gpt2Tiny: ModelConfig = {
  name: 'gpt2-tiny',
  arch: 'decoder',
  vocabSize: 50,
  maxPositions: 64,
  hidden: 32,
  layers: 2,
  heads: 4,
  kvHeads: 4,
  intermediate: 64,
  norm: 'layernorm',
  activation: 'gelu',
  positional: 'learned',
  tiedEmbeddings: true,
};

const llamaTiny: ModelConfig = {
  ...gpt2Tiny,
  name: 'llama-tiny',
  kvHeads: 2,
  intermediate: 48,
  norm: 'rmsnorm',
  activation: 'swiglu',
  positional: 'rope',
  tiedEmbeddings: false,
  normEps: 1e-6,
  ropeTheta: 500,
};

/** The tensor list of native/model/transformer.h, in seeding order. */
function specs(c: ModelConfig): [string, number[], 'w' | 'b' | 'g'][] {
  const E = c.hidden;
  const D = c.headDim ?? c.hidden / c.heads;
  const H = c.heads;
  const G = c.kvHeads;
  const I = c.intermediate;
  const F = c.activation === 'swiglu' ? 2 * I : I;
  const out: [string, number[], 'w' | 'b' | 'g'][] = [];
  const norm = (n: string): void => {
    out.push([`${n}.weight`, [E], 'g']);
    if (c.norm === 'layernorm') out.push([`${n}.bias`, [E], 'b']);
  };
  const lin = (n: string, i: number, o: number): void => {
    out.push([`${n}.weight`, [i, o], 'w']);
    out.push([`${n}.bias`, [o], 'b']);
  };
  const layer = (p: string, cross: boolean): void => {
    norm(`${p}ln_1`);
    lin(`${p}attn.c_attn`, E, (H + 2 * G) * D);
    lin(`${p}attn.c_proj`, H * D, E);
    if (cross) {
      norm(`${p}ln_cross`);
      lin(`${p}crossattn.q_attn`, E, H * D);
      lin(`${p}crossattn.kv_attn`, E, 2 * G * D);
      lin(`${p}crossattn.c_proj`, H * D, E);
    }
    norm(`${p}ln_2`);
    lin(`${p}mlp.c_fc`, E, F);
    lin(`${p}mlp.c_proj`, I, E);
  };
  out.push(['wte.weight', [c.vocabSize, E], 'w']);
  if (c.positional === 'learned') out.push(['wpe.weight', [c.maxPositions, E], 'w']);
  for (let i = 0; i < c.layers; i++) layer(`h.${i}.`, false);
  norm('ln_f');
  if (c.arch === 'encoder-decoder') {
    for (let i = 0; i < (c.decoderLayers ?? c.layers); i++) layer(`dec.h.${i}.`, true);
    norm('dec.ln_f');
  }
  if (c.arch !== 'encoder' && !c.tiedEmbeddings) out.push(['lm_head.weight', [c.vocabSize, E], 'w']);
  return out;
}

/** Explicit weights, larger than N(0, 0.02) so that greedy tokens vary. */
function makeTensors(c: ModelConfig, seed: number): Tensors {
  const t: Tensors = {};
  specs(c).forEach(([name, shape, kind], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const r = randomNormal(n, seed * 1000 + i + 1);
    const data = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      data[j] = kind === 'w' ? 0.25 * r[j] : kind === 'b' ? 0.05 * r[j] : 1 + 0.1 * r[j];
    }
    t[name] = { shape, data };
  });
  return t;
}

// ---- float64 reference forward -----------------------------------------------------------------

function refStack(c: ModelConfig, T: Tensors, tokens: number[], prefix: string, layers: number, causal: boolean,
  enc: Float64Array[] | null): Float64Array[] {
  const E = c.hidden;
  const D = c.headDim ?? c.hidden / c.heads;
  const H = c.heads;
  const G = c.kvHeads;
  const I = c.intermediate;
  const F = c.activation === 'swiglu' ? 2 * I : I;
  const eps = c.normEps ?? 1e-5;
  const n = tokens.length;
  const g = (name: string): Float32Array => {
    const x = T[name];
    if (!x) throw new Error(`test: no tensor ${name}`);
    return x.data;
  };
  const norm = (x: Float64Array, name: string): Float64Array => {
    const w = g(`${name}.weight`);
    const y = new Float64Array(E);
    if (c.norm === 'layernorm') {
      const b = g(`${name}.bias`);
      let m = 0;
      for (let k = 0; k < E; k++) m += x[k];
      m /= E;
      let v = 0;
      for (let k = 0; k < E; k++) v += (x[k] - m) ** 2;
      const r = 1 / Math.sqrt(v / E + eps);
      for (let k = 0; k < E; k++) y[k] = (x[k] - m) * r * w[k] + b[k];
    } else {
      let v = 0;
      for (let k = 0; k < E; k++) v += x[k] ** 2;
      const r = 1 / Math.sqrt(v / E + eps);
      for (let k = 0; k < E; k++) y[k] = x[k] * r * w[k];
    }
    return y;
  };
  const lin = (x: Float64Array, name: string, inDim: number, outDim: number): Float64Array => {
    const w = g(`${name}.weight`);
    const b = g(`${name}.bias`);
    const y = new Float64Array(outDim);
    for (let o = 0; o < outDim; o++) {
      let s = b[o];
      for (let k = 0; k < inDim; k++) s += x[k] * w[k * outDim + o];
      y[o] = s;
    }
    return y;
  };
  const rope = (v: Float64Array, off: number, pos: number): void => {
    const half = D / 2;
    for (let j = 0; j < half; j++) {
      const ang = pos * Math.pow(c.ropeTheta ?? 10000, (-2 * j) / D);
      const a = v[off + j];
      const b = v[off + j + half];
      v[off + j] = a * Math.cos(ang) - b * Math.sin(ang);
      v[off + j + half] = b * Math.cos(ang) + a * Math.sin(ang);
    }
  };
  // attention of q rows against k/v rows (each [*, heads*D] with kv heads G)
  const attend = (q: Float64Array[], k: Float64Array[], v: Float64Array[], isCausal: boolean): Float64Array[] => {
    const gs = H / G;
    return q.map((qr, i) => {
      const out = new Float64Array(H * D);
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / gs);
        const len = isCausal ? i + 1 : k.length;
        const s = new Float64Array(len);
        let mx = -Infinity;
        for (let j = 0; j < len; j++) {
          let d = 0;
          for (let e = 0; e < D; e++) d += qr[h * D + e] * k[j][kh * D + e];
          s[j] = d / Math.sqrt(D);
          mx = Math.max(mx, s[j]);
        }
        let sum = 0;
        for (let j = 0; j < len; j++) {
          s[j] = Math.exp(s[j] - mx);
          sum += s[j];
        }
        for (let j = 0; j < len; j++)
          for (let e = 0; e < D; e++) out[h * D + e] += (s[j] / sum) * v[j][kh * D + e];
      }
      return out;
    });
  };
  const wte = g('wte.weight');
  const x: Float64Array[] = tokens.map((t, i) => {
    const r = new Float64Array(E);
    for (let k = 0; k < E; k++) r[k] = wte[t * E + k];
    if (c.positional === 'learned') {
      const wpe = g('wpe.weight');
      for (let k = 0; k < E; k++) r[k] += wpe[i * E + k];
    }
    return r;
  });
  const add = (a: Float64Array, b: Float64Array): void => {
    for (let k = 0; k < a.length; k++) a[k] += b[k];
  };
  for (let l = 0; l < layers; l++) {
    const p = `${prefix}${l}.`;
    const qkv = x.map((r) => lin(norm(r, `${p}ln_1`), `${p}attn.c_attn`, E, (H + 2 * G) * D));
    if (c.positional === 'rope') {
      qkv.forEach((r, i) => {
        for (let h = 0; h < H + G; h++) rope(r, h * D, i);
      });
    }
    const q = qkv.map((r) => r.slice(0, H * D));
    const k = qkv.map((r) => r.slice(H * D, (H + G) * D));
    const v = qkv.map((r) => r.slice((H + G) * D));
    attend(q, k, v, causal).forEach((a, i) => add(x[i], lin(a, `${p}attn.c_proj`, H * D, E)));
    if (enc) {
      const xq = x.map((r) => lin(norm(r, `${p}ln_cross`), `${p}crossattn.q_attn`, E, H * D));
      const kv = enc.map((r) => lin(r, `${p}crossattn.kv_attn`, E, 2 * G * D));
      const ck = kv.map((r) => r.slice(0, G * D));
      const cv = kv.map((r) => r.slice(G * D));
      attend(xq, ck, cv, false).forEach((a, i) => add(x[i], lin(a, `${p}crossattn.c_proj`, H * D, E)));
    }
    for (let i = 0; i < n; i++) {
      const f = lin(norm(x[i], `${p}ln_2`), `${p}mlp.c_fc`, E, F);
      const act = new Float64Array(I);
      for (let j = 0; j < I; j++) {
        const u = f[j];
        if (c.activation === 'gelu') act[j] = 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
        else if (c.activation === 'relu') act[j] = Math.max(0, u);
        else act[j] = (u / (1 + Math.exp(-u))) * f[I + j];
      }
      add(x[i], lin(act, `${p}mlp.c_proj`, I, E));
    }
  }
  return x.map((r) => norm(r, prefix === 'h.' ? 'ln_f' : 'dec.ln_f'));
}

function refLogits(c: ModelConfig, T: Tensors, xs: Float64Array[]): Float64Array {
  const V = c.vocabSize;
  const E = c.hidden;
  const w = (c.tiedEmbeddings ? T['wte.weight'] : T['lm_head.weight'])!.data;
  const out = new Float64Array(xs.length * V);
  xs.forEach((x, i) => {
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let k = 0; k < E; k++) s += x[k] * w[v * E + k];
      out[i * V + v] = s;
    }
  });
  return out;
}

function refForward(c: ModelConfig, T: Tensors, tokens: number[]): Float64Array {
  if (c.arch === 'encoder') {
    const xs = refStack(c, T, tokens, 'h.', c.layers, false, null);
    const out = new Float64Array(tokens.length * c.hidden);
    xs.forEach((x, i) => out.set(x, i * c.hidden));
    return out;
  }
  if (c.arch === 'decoder') return refLogits(c, T, refStack(c, T, tokens, 'h.', c.layers, true, null));
  const enc = refStack(c, T, tokens, 'h.', c.layers, false, null);
  return refLogits(c, T, refStack(c, T, tokens, 'dec.h.', c.decoderLayers ?? c.layers, true, enc));
}

function expectClose(got: Float32Array, want: Float64Array, rel = 1e-4): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  expect(err / scale, `max abs error ${err} of max ${scale}`).toBeLessThanOrEqual(rel);
}

const prompt = Int32Array.from([3, 17, 42, 8, 25, 1, 33]);

describe('native transformer models', () => {
  it('reports its SIMD level', () => {
    expect(['generic', 'avx2', 'avx512']).toContain(native.modelInfo().simdLevel);
  });

  for (const [label, cfg] of [
    ['gpt2-style (layernorm, gelu, learned, tied)', gpt2Tiny],
    ['llama-style (GQA, rmsnorm, swiglu, rope, untied)', llamaTiny],
    ['relu, no positions', { ...gpt2Tiny, name: 'relu-tiny', activation: 'relu', positional: 'none', kvHeads: 1 }],
  ] as [string, ModelConfig][]) {
    it(`${label}: forward logits match a float64 reference; cached == uncached tokens`, async () => {
      const T = makeTensors(cfg, 5);
      const model = await native.createModel(cfg, { tensors: T });
      const nParams = specs(cfg).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
      expect(model.parameterCount).toBe(nParams);
      expect(model.weightBytes).toBe(4 * nParams);
      const want = refForward(cfg, T, Array.from(prompt));
      for (const implementation of ['flash', 'naive']) {
        const got = await model.forward(prompt, { implementation, threads });
        expect(got.length).toBe(prompt.length * cfg.vocabSize);
        expectClose(got, want);
      }
      const cached = await model.generate(prompt, 12, { implementation: 'flash', threads, useCache: true });
      const uncached = await model.generate(prompt, 12, { implementation: 'naive', threads: 1, useCache: false });
      expect(Array.from(cached.tokens)).toEqual(Array.from(uncached.tokens));
      expect(new Set(cached.tokens).size, 'greedy tokens should vary with these weights').toBeGreaterThan(1);
      expect(cached.stepNs.length).toBe(11);
      expect(cached.prefillNs).toBeGreaterThan(0);
      expect(cached.memory.kvCacheBytes).toBeGreaterThan(0);
      expect(uncached.memory.kvCacheBytes).toBe(0);
      expect(cached.memory.weightsBytes).toBeGreaterThanOrEqual(model.weightBytes);
      expect(cached.memory.peakBytes).toBeGreaterThanOrEqual(
        cached.memory.weightsBytes + cached.memory.kvCacheBytes + cached.memory.workspaceBytes,
      );
      // the first generated token is the argmax of the reference's last-row logits
      const V = cfg.vocabSize;
      const last = want.subarray((prompt.length - 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
      expect(cached.tokens[0]).toBe(best);
      model.dispose();
    });
  }

  it('every SIMD level (generic, avx2, avx512 tiles) matches the reference, with remainder rows and columns', async () => {
    const levels = ['generic', 'avx2', 'avx512'] as const;
    const detected = native.info().detectedSimdLevel;
    const usable = levels.slice(0, levels.indexOf(detected) + 1);
    const cfg: ModelConfig = { ...llamaTiny, vocabSize: 61, intermediate: 40 };
    const T = makeTensors(cfg, 13);
    const model = await native.createModel(cfg, { tensors: T });
    const long = Int32Array.from({ length: 29 }, (_, i) => (i * 7 + 3) % cfg.vocabSize);
    const want = refForward(cfg, T, Array.from(long));
    try {
      for (const level of usable) {
        native.setSimdLevel(level);
        expect(native.modelInfo().simdLevel).toBe(level);
        expectClose(await model.forward(long, { implementation: 'flash', threads }), want);
      }
    } finally {
      native.setSimdLevel(detected);
      model.dispose();
    }
  });

  it('seeded weights are deterministic and cached == uncached', async () => {
    const a = await native.createModel(gpt2Tiny, { seed: 11 });
    const b = await native.createModel(gpt2Tiny, { seed: 11 });
    const fa = await a.forward(prompt, { implementation: 'flash', threads });
    const fb = await b.forward(prompt, { implementation: 'flash', threads });
    expect(Array.from(fa)).toEqual(Array.from(fb));
    const c1 = await a.generate(prompt, 6, { implementation: 'flash', threads, useCache: true });
    const c2 = await a.generate(prompt, 6, { implementation: 'flash', threads, useCache: false });
    expect(Array.from(c1.tokens)).toEqual(Array.from(c2.tokens));
    a.dispose();
    b.dispose();
  });

  it('encoder: one bidirectional forward of hidden states matching the reference', async () => {
    const cfg: ModelConfig = { ...gpt2Tiny, name: 'bert-tiny', arch: 'encoder' };
    const T = makeTensors(cfg, 7);
    const model = await native.createModel(cfg, { tensors: T });
    const got = await model.forward(prompt, { implementation: 'flash', threads });
    expect(got.length).toBe(prompt.length * cfg.hidden);
    expectClose(got, refForward(cfg, T, Array.from(prompt)));
    const err = await catchAsync(model.generate(prompt, 2, { implementation: 'flash', threads, useCache: true }));
    expectCoded(err, ErrorCodes.INVALID_CONFIG, 'arch');
    model.dispose();
  });

  it('encoder-decoder: forward shape and logits match the reference; cached == uncached tokens', async () => {
    const cfg: ModelConfig = { ...llamaTiny, name: 't5-tiny', arch: 'encoder-decoder', decoderLayers: 3 };
    const T = makeTensors(cfg, 9);
    const model = await native.createModel(cfg, { tensors: T });
    const got = await model.forward(prompt, { implementation: 'flash', threads });
    expect(got.length).toBe(prompt.length * cfg.vocabSize);
    expectClose(got, refForward(cfg, T, Array.from(prompt)));
    const cached = await model.generate(prompt, 10, { implementation: 'flash', threads, useCache: true });
    const uncached = await model.generate(prompt, 10, { implementation: 'flash', threads, useCache: false });
    expect(cached.tokens.length).toBe(10);
    expect(Array.from(cached.tokens)).toEqual(Array.from(uncached.tokens));
    model.dispose();
  });

  it('bad config fields are ERR_DILBENCH_INVALID_CONFIG naming the field', async () => {
    const bad: [Partial<Record<keyof ModelConfig, unknown>>, string][] = [
      [{ heads: 0 }, 'heads'],
      [{ kvHeads: 3 }, 'kvHeads'],
      [{ hidden: 1.5 }, 'hidden'],
      [{ vocabSize: -1 }, 'vocabSize'],
      [{ norm: 'batchnorm' }, 'norm'],
      [{ activation: 'tanh' }, 'activation'],
      [{ positional: 7 }, 'positional'],
      [{ arch: 'seq2seq' }, 'arch'],
      [{ tiedEmbeddings: 'yes' }, 'tiedEmbeddings'],
      [{ hidden: 30, heads: 4 }, 'headDim'],
      [{ normEps: 0 }, 'normEps'],
    ];
    for (const [patch, field] of bad) {
      const cfg = { ...gpt2Tiny, ...patch } as unknown as ModelConfig;
      const err = await catchAsync(native.createModel(cfg, { seed: 1 }));
      expectCoded(err, ErrorCodes.INVALID_CONFIG, field);
    }
    const err = await catchAsync(native.createModel(gpt2Tiny, { seed: -1 } as ModelWeights));
    expectCoded(err, ErrorCodes.INVALID_CONFIG, 'seed');
  });

  it('a missing or mismatched tensor is ERR_DILBENCH_INVALID_CONFIG naming it and the expected shape', async () => {
    const T = makeTensors(gpt2Tiny, 3);
    const missing: Tensors = { ...T };
    delete missing['h.1.mlp.c_fc.bias'];
    let err = await catchAsync(native.createModel(gpt2Tiny, { tensors: missing }));
    expectCoded(err, ErrorCodes.INVALID_CONFIG, 'h.1.mlp.c_fc.bias');
    expect(err.message).toContain('[64]');
    const wrong: Tensors = { ...T, 'h.0.attn.c_attn.weight': { shape: [96, 32], data: new Float32Array(96 * 32) } };
    err = await catchAsync(native.createModel(gpt2Tiny, { tensors: wrong }));
    expectCoded(err, ErrorCodes.INVALID_CONFIG, 'h.0.attn.c_attn.weight');
    expect(err.message).toContain('[32, 96]');
    const short: Tensors = { ...T, 'ln_f.weight': { shape: [32], data: new Float32Array(31) } };
    err = await catchAsync(native.createModel(gpt2Tiny, { tensors: short }));
    expectCoded(err, ErrorCodes.INVALID_CONFIG, 'ln_f.weight');
  });

  it('bad run arguments are coded; generate rejects with ERR_DILBENCH_CANCELLED when cancelled', async () => {
    const model = await native.createModel(gpt2Tiny, { seed: 2 });
    const opts = { implementation: 'flash', threads: 1, useCache: true };
    expectCoded(await catchAsync(model.generate(Int32Array.from([50]), 2, opts)), ErrorCodes.INVALID_CONFIG, 'prompt');
    expectCoded(await catchAsync(model.generate(prompt, 60, opts)), ErrorCodes.INVALID_CONFIG, 'newTokens');
    expectCoded(
      await catchAsync(model.generate(prompt, 2, { ...opts, implementation: 'nope' })),
      ErrorCodes.INVALID_CONFIG,
      'implementation',
    );
    expectCoded(
      await catchAsync(model.forward([1, 2] as unknown as Int32Array, { implementation: 'flash', threads: 1 })),
      ErrorCodes.INVALID_CONFIG,
      'tokens',
    );
    const token = new native.CancelToken();
    token.cancel();
    const err = await catchAsync(model.generate(prompt, 8, opts, token));
    expectCoded(err, ErrorCodes.CANCELLED);
    // the model stays usable after a cancelled run
    const ok = await model.generate(prompt, 2, opts);
    expect(ok.tokens.length).toBe(2);
    model.dispose();
    expectCoded(await catchAsync(model.forward(prompt, { implementation: 'flash', threads: 1 })), ErrorCodes.INVALID_CONFIG, 'model');
  });
});
