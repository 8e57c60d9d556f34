// Checks of the CUDA transformer model (native/cuda/model), shared by model-cuda.test.ts (vitest)
// and run-model-checks.mjs (plain node, for GPU hosts without node_modules); also the tiny model
// fixtures and a float64 reference forward that can round to fp16 / bf16 where the CUDA model
// does, which test/native/model-device.test.ts runs on the CPU to predict the fp16/bf16 error.
import { existsSync } from 'node:fs';
import path from 'node:path';

/** relative L2 of the CUDA model's output against the CPU model's (fp32) output. fp16 / bf16:
 * weights, GEMM inputs, q/k/v, the KV cache and attention outputs are rounded to 11 / 8
 * significant bits (unit roundoff 4.9e-4 / 3.9e-3). With weights of std 0.08 (REDUCED_SCALE)
 * the float64 emulation (referenceForward with ROUND) predicts relL2 up to 8.4e-4 (fp16) and
 * 6.8e-3 (bf16) on these configs, so 2e-2 leaves a factor of ~3 for accumulation order and
 * still fails any bug (a wrong head, mask, position or layout gives errors of order 1). With
 * the large std-0.25 weights that make greedy tokens vary, the models amplify rounding (bf16
 * emulation: 8e-3 to 1.3e-1), so those weights serve the fp32 checks only. */
export const TOL = { fp32: 1e-4, fp16: 2e-2, bf16: 2e-2 };
export const DTYPES = ['fp32', 'fp16', 'bf16'];

/** Where a CUDA build of the addon may be: DILBENCH_ADDON_PATH first (when set), then the
 * places the loader uses (build-cuda/, variants/cuda/prebuilds/). */
export function cudaBinaryCandidates(root, env = process.env) {
  const target = `${process.platform}-${process.arch}`;
  const out = [];
  if (env.DILBENCH_ADDON_PATH) out.push(path.resolve(env.DILBENCH_ADDON_PATH));
  out.push(path.join(root, 'build-cuda', 'Release', 'dilbench.node'));
  out.push(path.join(root, 'variants', 'cuda', 'prebuilds', target, 'dilbench.node'));
  return out;
}

/** Loads the first candidate that is a CUDA build carrying the CUDA model; says why not otherwise. */
export function loadCudaModelBinary(requireFn, root, env = process.env) {
  const tried = [];
  for (const file of cudaBinaryCandidates(root, env)) {
    if (!existsSync(file)) {
      tried.push(`${file}: missing`);
      continue;
    }
    let b;
    try {
      b = requireFn(file);
    } catch (e) {
      tried.push(`${file}: does not load (${String(e.message).split('\n')[0]})`);
      continue;
    }
    if (!b.info().cuda.compiled) {
      tried.push(`${file}: built without CUDA`);
      continue;
    }
    if (typeof b.modelInfo !== 'function' || b.modelInfo().cudaCompiled !== true) {
      tried.push(
        `${file}: predates the CUDA model (modelInfo().cudaCompiled is not true); rebuild it`,
      );
      continue;
    }
    return { binding: b, file, tried };
  }
  return { binding: null, file: null, tried };
}

// ---- fixtures ----------------------------------------------------------------------------------

const gpt2Tiny = {
  name: 'gpt2-tiny',
  arch: 'decoder',
  vocabSize: 97,
  maxPositions: 64,
  hidden: 64,
  layers: 2,
  heads: 2,
  kvHeads: 2,
  intermediate: 128,
  norm: 'layernorm',
  activation: 'gelu',
  positional: 'learned',
  tiedEmbeddings: true,
};

/** The configurations of the GPU checks; `paths` says which attention code each exercises. */
export function modelCases() {
  return [
    {
      label: 'decoder gpt2-style',
      paths: 'd32: flash SIMT prefill, attendRows decode',
      config: gpt2Tiny,
      weights: 'explicit',
      promptLength: 29,
      newTokens: 12,
    },
    {
      label: 'decoder llama-style',
      paths:
        'GQA 4/2, d64, rope, swiglu, rmsnorm, untied: flash (tensor cores in fp16/bf16) + launchDecode',
      config: {
        ...gpt2Tiny,
        name: 'llama-tiny',
        hidden: 128,
        heads: 4,
        kvHeads: 2,
        headDim: 64,
        intermediate: 96,
        norm: 'rmsnorm',
        activation: 'swiglu',
        positional: 'rope',
        tiedEmbeddings: false,
        normEps: 1e-6,
        ropeTheta: 500,
      },
      weights: 'explicit',
      promptLength: 29,
      newTokens: 12,
    },
    {
      label: 'decoder d16',
      paths: 'heads 2/1, relu, no positions: attendRows everywhere (flash needs d 32/64/96/128)',
      config: {
        ...gpt2Tiny,
        name: 'd16-tiny',
        hidden: 32,
        heads: 2,
        kvHeads: 1,
        activation: 'relu',
        positional: 'none',
      },
      weights: 'explicit',
      promptLength: 29,
      newTokens: 12,
    },
    {
      label: 'encoder bert-style',
      paths: 'd32 bidirectional flash',
      config: { ...gpt2Tiny, name: 'bert-tiny', arch: 'encoder' },
      weights: 'explicit',
      promptLength: 29,
      newTokens: 0,
    },
    {
      label: 'encoder-decoder t5-style',
      paths:
        'd64, 3 decoder layers: cross-attention by flash (forward), launchDecode (cached), attendRows (recompute)',
      config: {
        ...gpt2Tiny,
        name: 't5-tiny',
        arch: 'encoder-decoder',
        decoderLayers: 3,
        hidden: 128,
        heads: 2,
        kvHeads: 2,
        headDim: 64,
        norm: 'rmsnorm',
        activation: 'relu',
        positional: 'none',
        tiedEmbeddings: false,
      },
      weights: 'explicit',
      promptLength: 29,
      newTokens: 10,
    },
    {
      label: 'gpt2-shaped 2 layers',
      paths: 'hidden 768, 12 heads d64, vocab 50257, seeded N(0, 0.02) weights',
      config: {
        name: 'gpt2-2layer',
        arch: 'decoder',
        vocabSize: 50257,
        maxPositions: 1024,
        hidden: 768,
        layers: 2,
        heads: 12,
        kvHeads: 12,
        intermediate: 3072,
        norm: 'layernorm',
        activation: 'gelu',
        positional: 'learned',
        tiedEmbeddings: true,
      },
      weights: 'seeded',
      promptLength: 40,
      newTokens: 16,
    },
  ];
}

export function promptFor(c, length) {
  return Int32Array.from({ length }, (_, i) => (i * 37 + 11) % c.vocabSize);
}

/** Deterministic N(0, 1) values (xorshift32 + Box-Muller). */
export function randomNormal(n, seed) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 1) / 4294967297;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** The tensor list of native/model/transformer.h, in seeding order: [name, shape, kind]. */
export function tensorSpecs(c) {
  const E = c.hidden;
  const D = c.headDim ?? c.hidden / c.heads;
  const H = c.heads;
  const G = c.kvHeads;
  const I = c.intermediate;
  const F = c.activation === 'swiglu' ? 2 * I : I;
  const out = [];
  const norm = (n) => {
    out.push([`${n}.weight`, [E], 'g']);
    if (c.norm === 'layernorm') out.push([`${n}.bias`, [E], 'b']);
  };
  const lin = (n, i, o) => {
    out.push([`${n}.weight`, [i, o], 'w']);
    out.push([`${n}.bias`, [o], 'b']);
  };
  const layer = (p, cross) => {
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
  if (c.arch !== 'encoder' && !c.tiedEmbeddings)
    out.push(['lm_head.weight', [c.vocabSize, E], 'w']);
  return out;
}

/** Bytes of the weights as the CUDA model stores them: matrices and embeddings in the dtype,
 * biases and norm weights in fp32. */
export function expectedWeightBytes(c, dtype) {
  const es = dtype === 'fp32' ? 4 : 2;
  return tensorSpecs(c).reduce(
    (a, [, shape]) => a + shape.reduce((x, y) => x * y, 1) * (shape.length === 2 ? es : 4),
    0,
  );
}

/** Std of the matrices in the fp16 / bf16 checks (see TOL). */
export const REDUCED_SCALE = 0.08;

/** Explicit weights: matrices N(0, wScale) (default 0.25: larger than N(0, 0.02) so that greedy
 * tokens vary), biases N(0, 0.05), norm weights 1 + N(0, 0.1). */
export function makeTensors(c, seed, wScale = 0.25) {
  const t = {};
  tensorSpecs(c).forEach(([name, shape, kind], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const r = randomNormal(n, seed * 1000 + i + 1);
    const data = new Float32Array(n);
    for (let j = 0; j < n; j++)
      data[j] = kind === 'w' ? wScale * r[j] : kind === 'b' ? 0.05 * r[j] : 1 + 0.1 * r[j];
    t[name] = { shape, data };
  });
  return t;
}

// ---- rounding and the float64 reference ---------------------------------------------------------

/** Round to nearest even with `mant` stored mantissa bits, exponent >= minExp (subnormals below),
 * overflow to +-Infinity above max. */
function roundTo(x, mant, minExp, max) {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  const ulp = 2 ** (Math.max(e, minExp) - mant);
  const q = a / ulp;
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2 === 1) r -= 1;
  const y = r * ulp;
  if (y > max) return x > 0 ? Infinity : -Infinity;
  return x > 0 ? y : -y;
}
export const ROUND = {
  fp32: (x) => Math.fround(x),
  fp16: (x) => roundTo(x, 10, -14, 65504),
  bf16: (x) => roundTo(x, 7, -126, 3.3895313892515355e38),
};

/**
 * Float64 forward of native/model/transformer.h over tensors T. With `round` (a ROUND entry) it
 * rounds where the CUDA model stores its dtype: matrices and embeddings, every GEMM input (norm
 * outputs, attention outputs, MLP activations, the encoder output), q / k / v (the KV cache) and
 * the attention probabilities fed to P V (the tensor-core flash kernel's P tile).
 * Returns logits [n, vocab] (decoder, encoder-decoder) or hidden states [n, hidden] (encoder).
 */
export function referenceForward(c, T, tokens, round = null) {
  const rnd = round ?? ((x) => x);
  const rv = (v) => {
    if (round) for (let i = 0; i < v.length; i++) v[i] = rnd(v[i]);
    return v;
  };
  const W = {};
  for (const [name, shape] of tensorSpecs(c)) {
    const d = T[name].data;
    W[name] = shape.length === 2 && round ? Float64Array.from(d, rnd) : d;
  }
  const E = c.hidden;
  const D = c.headDim ?? c.hidden / c.heads;
  const H = c.heads;
  const G = c.kvHeads;
  const I = c.intermediate;
  const F = c.activation === 'swiglu' ? 2 * I : I;
  const eps = c.normEps ?? 1e-5;
  const V = c.vocabSize;
  const norm = (x, name) => {
    const w = W[`${name}.weight`];
    const y = new Float64Array(E);
    if (c.norm === 'layernorm') {
      const b = W[`${name}.bias`];
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
  const lin = (x, name, inDim, outDim) => {
    const w = W[`${name}.weight`];
    const b = W[`${name}.bias`];
    const y = new Float64Array(outDim);
    for (let o = 0; o < outDim; o++) y[o] = b[o];
    for (let k = 0; k < inDim; k++) {
      const xk = x[k];
      const row = k * outDim;
      for (let o = 0; o < outDim; o++) y[o] += xk * w[row + o];
    }
    return y;
  };
  const rope = (v, off, pos) => {
    const half = D / 2;
    for (let j = 0; j < half; j++) {
      const ang = pos * Math.pow(c.ropeTheta ?? 10000, (-2 * j) / D);
      const a = v[off + j];
      const b = v[off + j + half];
      v[off + j] = a * Math.cos(ang) - b * Math.sin(ang);
      v[off + j + half] = b * Math.cos(ang) + a * Math.sin(ang);
    }
  };
  const attend = (q, k, v, causal) => {
    const gs = H / G;
    return q.map((qr, i) => {
      const out = new Float64Array(H * D);
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / gs);
        const len = causal ? i + 1 : k.length;
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
        for (let j = 0; j < len; j++) {
          const p = rnd(s[j]) / sum;
          for (let e = 0; e < D; e++) out[h * D + e] += p * v[j][kh * D + e];
        }
      }
      return rv(out);
    });
  };
  const stack = (toks, prefix, layers, causal, enc) => {
    const wte = W['wte.weight'];
    const x = toks.map((t, i) => {
      const r = new Float64Array(E);
      for (let k = 0; k < E; k++) r[k] = wte[t * E + k];
      if (c.positional === 'learned') {
        const wpe = W['wpe.weight'];
        for (let k = 0; k < E; k++) r[k] += wpe[i * E + k];
      }
      return r;
    });
    const add = (a, b) => {
      for (let k = 0; k < a.length; k++) a[k] += b[k];
    };
    for (let l = 0; l < layers; l++) {
      const p = `${prefix}${l}.`;
      const qkv = x.map((r) => lin(rv(norm(r, `${p}ln_1`)), `${p}attn.c_attn`, E, (H + 2 * G) * D));
      if (c.positional === 'rope')
        qkv.forEach((r, i) => {
          for (let h = 0; h < H + G; h++) rope(r, h * D, i);
        });
      qkv.forEach(rv);
      const q = qkv.map((r) => r.slice(0, H * D));
      const k = qkv.map((r) => r.slice(H * D, (H + G) * D));
      const v = qkv.map((r) => r.slice((H + G) * D));
      attend(q, k, v, causal).forEach((a, i) => add(x[i], lin(a, `${p}attn.c_proj`, H * D, E)));
      if (enc) {
        const xq = x.map((r) =>
          rv(lin(rv(norm(r, `${p}ln_cross`)), `${p}crossattn.q_attn`, E, H * D)),
        );
        const kv = enc.map((r) => rv(lin(r, `${p}crossattn.kv_attn`, E, 2 * G * D)));
        const ck = kv.map((r) => r.slice(0, G * D));
        const cv = kv.map((r) => r.slice(G * D));
        attend(xq, ck, cv, false).forEach((a, i) =>
          add(x[i], lin(a, `${p}crossattn.c_proj`, H * D, E)),
        );
      }
      for (let i = 0; i < x.length; i++) {
        const f = lin(rv(norm(x[i], `${p}ln_2`)), `${p}mlp.c_fc`, E, F);
        const act = new Float64Array(I);
        for (let j = 0; j < I; j++) {
          const u = f[j];
          if (c.activation === 'gelu')
            act[j] = 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
          else if (c.activation === 'relu') act[j] = Math.max(0, u);
          else act[j] = (u / (1 + Math.exp(-u))) * f[I + j];
        }
        add(x[i], lin(rv(act), `${p}mlp.c_proj`, I, E));
      }
    }
    return x.map((r) => norm(r, prefix === 'h.' ? 'ln_f' : 'dec.ln_f'));
  };
  const logits = (xs) => {
    const w = c.tiedEmbeddings ? W['wte.weight'] : W['lm_head.weight'];
    const out = new Float64Array(xs.length * V);
    xs.forEach((x0, i) => {
      const x = rv(Float64Array.from(x0));
      for (let t = 0; t < V; t++) {
        let s = 0;
        for (let k = 0; k < E; k++) s += x[k] * w[t * E + k];
        out[i * V + t] = s;
      }
    });
    return out;
  };
  const toks = Array.from(tokens);
  if (c.arch === 'encoder') {
    const out = new Float64Array(toks.length * E);
    stack(toks, 'h.', c.layers, false, null).forEach((x, i) => out.set(x, i * E));
    return out;
  }
  if (c.arch === 'decoder') return logits(stack(toks, 'h.', c.layers, true, null));
  const enc = stack(toks, 'h.', c.layers, false, null).map(rv);
  return logits(stack(toks, 'dec.h.', c.decoderLayers ?? c.layers, true, enc));
}

/** relative L2 (||got - want|| / ||want||), max |diff| and whether every value is finite. */
export function compareOutputs(got, want) {
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  let finite = got.length === want.length;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    if (!Number.isFinite(g)) finite = false;
    const d = g - want[i];
    num += d * d;
    den += want[i] * want[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { relL2: Math.sqrt(num / Math.max(den, 1e-300)), maxAbs, finite };
}

// ---- the checks on a GPU --------------------------------------------------------------------------

/** The weights of a case for one dtype: seeded, or explicit (std 0.25 for fp32, REDUCED_SCALE
 * for fp16 / bf16). */
export function weightsFor(mc, dtype) {
  if (mc.weights === 'seeded') return { seed: 3 };
  return { tensors: makeTensors(mc.config, 5, dtype === 'fp32' ? 0.25 : REDUCED_SCALE) };
}

const sameTokens = (a, b) => a.length === b.length && a.every((t, i) => t === b[i]);

/**
 * One config on the CPU model and on the CUDA model in each dtype: forward outputs against the
 * CPU's (relL2 <= TOL), weight bytes as stored, generation (fp32: cached == uncached == CPU
 * tokens, flash and naive), event timings and the memory report. Returns one result per dtype
 * with `failures` (empty = pass).
 */
export async function checkModelCase(b, mc, dtypes = DTYPES) {
  const cpuThreads = Math.max(1, Math.min(8, b.info().hardwareThreads));
  const c = mc.config;
  const prompt = promptFor(c, mc.promptLength);
  const gen = c.arch !== 'encoder';
  // The CPU model's output and tokens, per weight set.
  const cpuRuns = new Map();
  const cpuRun = async (weights) => {
    if (!cpuRuns.has(weights)) {
      const cpu = await b.createModel(c, weights);
      const out = await cpu.forward(prompt, { implementation: 'flash', threads: cpuThreads });
      const tokens = gen
        ? Array.from(
            (
              await cpu.generate(prompt, mc.newTokens, {
                implementation: 'flash',
                threads: cpuThreads,
                useCache: true,
              })
            ).tokens,
          )
        : [];
      cpu.dispose();
      cpuRuns.set(weights, { out, tokens });
    }
    return cpuRuns.get(weights);
  };
  const weightSets = { fp32: weightsFor(mc, 'fp32'), reduced: weightsFor(mc, 'fp16') };
  const results = [];
  for (const dtype of dtypes) {
    const weights = dtype === 'fp32' ? weightSets.fp32 : weightSets.reduced;
    const { out: want, tokens: cpuTokens } = await cpuRun(weights);
    const failures = [];
    const fail = (msg) => failures.push(msg);
    const r = { label: mc.label, model: c.name, dtype, failures };
    let m;
    try {
      m = await b.createModel(c, weights, { device: 'cuda', dtype });
      if (m.device !== 'cuda' || m.dtype !== dtype)
        fail(`model reports device ${m.device} dtype ${m.dtype}`);
      r.weightBytes = m.weightBytes;
      if (m.weightBytes !== expectedWeightBytes(c, dtype))
        fail(`weightBytes ${m.weightBytes} != ${expectedWeightBytes(c, dtype)}`);
      const run = { implementation: 'flash', threads: 1 };
      r.forward = compareOutputs(await m.forward(prompt, run), want);
      if (!r.forward.finite) fail('forward: non-finite or wrong-length output');
      if (!(r.forward.relL2 <= TOL[dtype]))
        fail(`forward relL2 ${r.forward.relL2.toExponential(3)} > ${TOL[dtype]}`);
      if (dtype === 'fp32') {
        r.forwardNaive = compareOutputs(
          await m.forward(prompt, { ...run, implementation: 'naive' }),
          want,
        );
        if (!(r.forwardNaive.finite && r.forwardNaive.relL2 <= TOL.fp32))
          fail(`naive forward relL2 ${r.forwardNaive.relL2}`);
      }
      if (gen) {
        const cached = await m.generate(prompt, mc.newTokens, { ...run, useCache: true });
        const uncached = await m.generate(prompt, mc.newTokens, { ...run, useCache: false });
        const tc = Array.from(cached.tokens);
        const tu = Array.from(uncached.tokens);
        r.tokens = { cpu: cpuTokens, cached: tc, uncached: tu };
        r.prefillMs = cached.prefillNs / 1e6;
        r.stepMs = Array.from(cached.stepNs, (x) => x / 1e6);
        r.memory = { cached: cached.memory, uncached: uncached.memory };
        for (const [name, g] of [
          ['cached', cached],
          ['uncached', uncached],
        ]) {
          if (g.tokens.length !== mc.newTokens)
            fail(`${name}: ${g.tokens.length} tokens, want ${mc.newTokens}`);
          if (!g.tokens.every((t) => t >= 0 && t < c.vocabSize))
            fail(`${name}: token outside the vocabulary`);
          if (
            !(g.prefillNs > 0) ||
            g.stepNs.length !== mc.newTokens - 1 ||
            !g.stepNs.every((x) => x > 0 && Number.isFinite(x))
          ) {
            fail(`${name}: event timings prefill ${g.prefillNs} ns, ${g.stepNs.length} steps`);
          }
          const mem = g.memory;
          if (!(mem.weightsBytes >= m.weightBytes))
            fail(`${name}: memory.weightsBytes ${mem.weightsBytes} < weightBytes ${m.weightBytes}`);
          if (!(mem.peakBytes >= mem.weightsBytes + mem.kvCacheBytes + mem.workspaceBytes))
            fail(`${name}: peak below its parts ${JSON.stringify(mem)}`);
        }
        if (!(cached.memory.kvCacheBytes > 0)) fail('cached: kvCacheBytes is 0');
        if (uncached.memory.kvCacheBytes !== 0) fail('uncached: kvCacheBytes is not 0');
        if (dtype === 'fp32') {
          if (!sameTokens(tc, tu)) fail(`fp32 cached ${tc} != uncached ${tu}`);
          if (!sameTokens(tc, cpuTokens)) fail(`fp32 cached ${tc} != CPU ${cpuTokens}`);
          const naive = await m.generate(prompt, mc.newTokens, {
            ...run,
            implementation: 'naive',
            useCache: true,
          });
          r.tokens.naive = Array.from(naive.tokens);
          if (!sameTokens(r.tokens.naive, cpuTokens))
            fail(`fp32 naive cached ${r.tokens.naive} != CPU ${cpuTokens}`);
        } else {
          // Reported, not required: near-ties may flip in fp16 / bf16.
          r.tokenAgreement =
            tc.filter((t, i) => t === cpuTokens[i]).length / Math.max(1, tc.length);
        }
      }
    } catch (e) {
      fail(`threw ${e.code ?? ''} ${String(e.message).slice(0, 300)}`);
    } finally {
      m?.dispose();
    }
    r.ok = failures.length === 0;
    results.push(r);
  }
  return results;
}

/** Coded errors on a GPU: an implementation the CUDA model does not run; fp16 on the CPU. */
export async function checkModelErrors(b) {
  const out = [];
  const c = gpt2Tiny;
  const m = await b.createModel(c, { seed: 1 }, { device: 'cuda', dtype: 'bf16' });
  try {
    await m.forward(promptFor(c, 5), { implementation: 'dilated', threads: 1 });
    out.push({ what: 'implementation dilated on cuda', ok: false, got: 'no error' });
  } catch (e) {
    out.push({
      what: 'implementation dilated on cuda',
      ok: e.code === 'ERR_DILBENCH_UNSUPPORTED' && e.field === 'implementation',
      got: `${e.code} ${e.field}: ${e.message}`,
    });
  }
  // the model still runs after the refused call
  const t = await m.forward(promptFor(c, 5), { implementation: 'flash', threads: 1 });
  out.push({
    what: 'forward after a refused call',
    ok: t.length === 5 * c.vocabSize && t.every(Number.isFinite),
    got: `${t.length} values`,
  });
  m.dispose();
  return out;
}
