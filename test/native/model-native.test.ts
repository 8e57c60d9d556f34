// Native transformer models (issue 7): forward logits against the float64 reference forward of
// test/gpu/model-checks.mjs from the same explicit weights, cached == uncached greedy generation, encoder and
// encoder-decoder shapes, coded errors for bad configs / tensors, cancellation.
import { describe, expect, it } from 'vitest';

import { ErrorCodes, type NativeBinding } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';
import type { ModelBinding, ModelConfig } from '../../src/native/model-binding.js';
// @ts-expect-error plain ESM module shared with test/gpu/run-model-checks.mjs
import * as mc from '../gpu/model-checks.mjs';
import { catchAsync, expectCoded } from './helpers.js';
import { firstItems } from '../helpers/at.js';

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

// The tensor list, explicit weights (matrices N(0, 0.25), large enough that greedy tokens vary) and
// the float64 reference forward (no rounding: the CPU model runs fp32) are the ones test/gpu uses.
const specs = mc.tensorSpecs as (c: ModelConfig) => [string, number[], 'w' | 'b' | 'g'][];
const makeTensors = mc.makeTensors as (c: ModelConfig, seed: number) => Tensors;
const refForward = mc.referenceForward as (
  c: ModelConfig,
  T: Tensors,
  tokens: number[],
) => Float64Array;

function expectClose(got: Float32Array, want: Float64Array, rel = 1e-4): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
  }
  expect(err / scale, `max abs error ${err} of max ${scale}`).toBeLessThanOrEqual(rel);
}

const prompt = Int32Array.from([3, 17, 42, 8, 25, 1, 33]);

// headDim 256 x 4 kv heads: a decode step against more than 128 cached rows is above attendRows'
// inline threshold (2^17 floats of K), so it runs on the thread pool.
const wideHeads: ModelConfig = {
  ...gpt2Tiny,
  name: 'wide-heads',
  maxPositions: 160,
  headDim: 256,
  layers: 1,
};
const widePrompt = Int32Array.from({ length: 140 }, (_, i) => (i * 11 + 2) % wideHeads.vocabSize);

describe('native transformer models', () => {
  it('reports its SIMD level', () => {
    expect(['generic', 'avx2', 'avx512']).toContain(native.modelInfo().simdLevel);
  });

  for (const [label, cfg] of [
    ['gpt2-style (layernorm, gelu, learned, tied)', gpt2Tiny],
    ['llama-style (GQA, rmsnorm, swiglu, rope, untied)', llamaTiny],
    [
      'relu, no positions',
      { ...gpt2Tiny, name: 'relu-tiny', activation: 'relu', positional: 'none', kvHeads: 1 },
    ],
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
      const cached = await model.generate(prompt, 12, {
        implementation: 'flash',
        threads,
        useCache: true,
      });
      const uncached = await model.generate(prompt, 12, {
        implementation: 'naive',
        threads: 1,
        useCache: false,
      });
      expect(Array.from(cached.tokens)).toEqual(Array.from(uncached.tokens));
      expect(
        new Set(cached.tokens).size,
        'greedy tokens should vary with these weights',
      ).toBeGreaterThan(1);
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
      for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
      expect(cached.tokens[0]).toBe(best);
      model.dispose();
    });
  }

  it('every SIMD level (generic, avx2, avx512 tiles) matches the reference, with remainder rows and columns', async () => {
    const levels = ['generic', 'avx2', 'avx512'] as const;
    const detected = native.info().detectedSimdLevel;
    // aarch64: generic and the NEON tile
    const usable =
      detected === 'neon'
        ? (['generic', 'neon'] as const)
        : levels.slice(0, levels.indexOf(detected) + 1);
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
    const err = await catchAsync(
      model.generate(prompt, 2, { implementation: 'flash', threads, useCache: true }),
    );
    expectCoded(err, ErrorCodes.INVALID_CONFIG, 'arch');
    model.dispose();
  });

  it('encoder-decoder: forward shape and logits match the reference; cached == uncached tokens', async () => {
    const cfg: ModelConfig = {
      ...llamaTiny,
      name: 't5-tiny',
      arch: 'encoder-decoder',
      decoderLayers: 3,
    };
    const T = makeTensors(cfg, 9);
    const model = await native.createModel(cfg, { tensors: T });
    const got = await model.forward(prompt, { implementation: 'flash', threads });
    expect(got.length).toBe(prompt.length * cfg.vocabSize);
    expectClose(got, refForward(cfg, T, Array.from(prompt)));
    const cached = await model.generate(prompt, 10, {
      implementation: 'flash',
      threads,
      useCache: true,
    });
    const uncached = await model.generate(prompt, 10, {
      implementation: 'flash',
      threads,
      useCache: false,
    });
    expect(cached.tokens.length).toBe(10);
    expect(Array.from(cached.tokens)).toEqual(Array.from(uncached.tokens));
    model.dispose();
  });

  it('steady-state KV-cache decode takes nothing from the model pool per token; recompute does', async () => {
    const cases: [ModelConfig, Int32Array][] = [
      [gpt2Tiny, prompt],
      // a 1-token prompt: the prefill itself goes through the decode attention
      [gpt2Tiny, Int32Array.from([5])],
      [llamaTiny, prompt],
      [{ ...llamaTiny, name: 't5-tiny', arch: 'encoder-decoder', decoderLayers: 2 }, prompt],
      [wideHeads, widePrompt],
    ];
    for (const [cfg, p] of cases) {
      const model = await native.createModel(cfg, { tensors: makeTensors(cfg, 21) });
      for (const t of [1, 2]) {
        const cached = await model.generate(p, 8, {
          implementation: 'flash',
          threads: t,
          useCache: true,
        });
        expect(cached.stepNs.length).toBe(7);
        expect(
          Array.from(cached.stepPoolAllocations ?? []),
          `${cfg.name}, prompt ${p.length}, ${t} thread(s)`,
        ).toEqual(new Array(7).fill(0));
      }
      // the counter counts: a recompute step regrows its row buffers and allocates the attention kernel's
      const uncached = await model.generate(p, 8, {
        implementation: 'flash',
        threads: 2,
        useCache: false,
      });
      expect(uncached.stepPoolAllocations?.length).toBe(7);
      expect(Math.min(...(uncached.stepPoolAllocations ?? [0])), cfg.name).toBeGreaterThan(0);
      model.dispose();
    }
  });

  it('threaded decode attention over a long cache: every greedy token matches the float64 reference', async () => {
    // 4 kv heads of 256: past 128 cached rows the decode attention runs on the thread pool
    // (attendRows runs shorter ones inline), so this covers that path at 2 threads.
    const T = makeTensors(wideHeads, 23);
    const model = await native.createModel(wideHeads, { tensors: T });
    const newTokens = 6;
    const cached = await model.generate(widePrompt, newTokens, {
      implementation: 'flash',
      threads: 2,
      useCache: true,
    });
    const uncached = await model.generate(widePrompt, newTokens, {
      implementation: 'naive',
      threads: 1,
      useCache: false,
    });
    expect(Array.from(cached.tokens)).toEqual(Array.from(uncached.tokens));
    const seq = [...Array.from(widePrompt), ...Array.from(cached.tokens).slice(0, -1)];
    const want = refForward(wideHeads, T, seq);
    const V = wideHeads.vocabSize;
    let compared = 0;
    for (let s = 0; s < newTokens; s++) {
      const row = want.subarray((widePrompt.length - 1 + s) * V, (widePrompt.length + s) * V);
      const order = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]!);
      // a near tie between the top two logits may round either way in fp32
      const [top, next] = firstItems(order, 2, 'logits');
      if (row[top]! - row[next]! < 1e-4 * Math.abs(row[top]!)) continue;
      expect(cached.tokens[s], `step ${s}`).toBe(order[0]);
      compared++;
    }
    expect(compared, 'steps without a near tie').toBe(newTokens);
    expect(
      new Set(cached.tokens).size,
      'greedy tokens should vary with these weights',
    ).toBeGreaterThan(1);
    model.dispose();
  });

  it('cancelling during threaded decode steps rejects with ERR_DILBENCH_CANCELLED; the model stays usable', async () => {
    // big enough that 1000 decode steps take seconds, so the cancel lands inside one of them
    const cfg: ModelConfig = {
      ...gpt2Tiny,
      name: 'mid',
      vocabSize: 4000,
      maxPositions: 1100,
      hidden: 256,
      layers: 4,
      heads: 4,
      kvHeads: 4,
      intermediate: 1024,
    };
    const model = await native.createModel(cfg, { seed: 3 });
    const opts = { implementation: 'flash', threads: 2, useCache: true };
    const token = new native.CancelToken();
    const started = Date.now();
    const run = model.generate(prompt, 1000, opts, token);
    setTimeout(() => token.cancel(), 30);
    const err = await catchAsync(run);
    expectCoded(err, ErrorCodes.CANCELLED);
    expect(Date.now() - started, 'cancelled well before 1000 steps could finish').toBeLessThan(
      2000,
    );
    const a = await model.generate(prompt, 6, opts);
    const b = await model.generate(prompt, 6, { ...opts, threads: 1 });
    expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
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
    const err = await catchAsync(native.createModel(gpt2Tiny, { seed: -1 }));
    expectCoded(err, ErrorCodes.INVALID_CONFIG, 'seed');
  });

  it('a missing or mismatched tensor is ERR_DILBENCH_INVALID_CONFIG naming it and the expected shape', async () => {
    const T = makeTensors(gpt2Tiny, 3);
    const missing: Tensors = { ...T };
    delete missing['h.1.mlp.c_fc.bias'];
    let err = await catchAsync(native.createModel(gpt2Tiny, { tensors: missing }));
    expectCoded(err, ErrorCodes.INVALID_CONFIG, 'h.1.mlp.c_fc.bias');
    expect(err.message).toContain('[64]');
    const wrong: Tensors = {
      ...T,
      'h.0.attn.c_attn.weight': { shape: [96, 32], data: new Float32Array(96 * 32) },
    };
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
    expectCoded(
      await catchAsync(model.generate(Int32Array.from([50]), 2, opts)),
      ErrorCodes.INVALID_CONFIG,
      'prompt',
    );
    expectCoded(
      await catchAsync(model.generate(prompt, 60, opts)),
      ErrorCodes.INVALID_CONFIG,
      'newTokens',
    );
    expectCoded(
      await catchAsync(model.generate(prompt, 2, { ...opts, implementation: 'nope' })),
      ErrorCodes.INVALID_CONFIG,
      'implementation',
    );
    expectCoded(
      await catchAsync(
        model.forward([1, 2] as unknown as Int32Array, { implementation: 'flash', threads: 1 }),
      ),
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
    expectCoded(
      await catchAsync(model.forward(prompt, { implementation: 'flash', threads: 1 })),
      ErrorCodes.INVALID_CONFIG,
      'model',
    );
  });
});
