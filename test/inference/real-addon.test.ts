// `dilbench inference` and `dilbench scaling` end to end on the real addon's model core with tiny
// YAML models (and a tiny GPT-2 checkpoint written here). Skipped, with the reason printed, when the
// addon cannot be loaded or has no model core (createModel).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tryLoadBinding, loadBinding } from '../../src/native/dilbench.js';
import { gpt2TensorShapes } from '../../src/models/gpt2-checkpoint.js';
import { validateModelConfig } from '../../src/models/config.js';
import { writeSafetensors, type Tensor } from '../../src/models/safetensors.js';
import type { InferenceMetricsFile } from '../../src/inference/benchmark.js';
import { run } from '../../src/cli/main.js';
import { captureOutput } from '../helpers/capture-output.js';

function skipReason(): string | null {
  const b = tryLoadBinding() as unknown as { createModel?: unknown } | null;
  if (!b) {
    try {
      loadBinding();
    } catch (e) {
      return `native addon not loadable: ${(e as Error).message.split('\n').find((l) => l.startsWith('Cause:')) ?? 'unknown'}`;
    }
  }
  if (typeof b?.createModel !== 'function')
    return 'the native addon has no model core (typeof binding.createModel !== "function")';
  return null;
}

const reason = skipReason();

/** GPT-2 checkpoint tensors filled from one LCG stream: value(name, u) with u uniform in [0, 1). */
function seededTensors(
  config: ReturnType<typeof validateModelConfig>,
  seed: number,
  value: (name: string, u: number) => number,
): Record<string, Tensor> {
  const tensors: Record<string, Tensor> = {};
  let s = seed;
  for (const [name, shape] of gpt2TensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      data[i] = value(name, s / 2 ** 32);
    }
    tensors[name] = { shape, data };
  }
  return tensors;
}
if (reason) console.warn(`[skip] real-addon inference/scaling tests: ${reason}`);

const dir = mkdtempSync(join(tmpdir(), 'dilbench-real-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TINY = `name: tiny-gpt2
arch: decoder
vocabSize: 300
maxPositions: 64
hidden: 32
layers: 2
heads: 4
kvHeads: 4
intermediate: 64
norm: layernorm
activation: gelu
positional: learned
tiedEmbeddings: true
`;

async function cli(args: string[]): Promise<{ code: number; text: string }> {
  const { result: code, text } = await captureOutput(() => run(['node', 'dilbench', ...args]));
  return { code, text };
}

describe.skipIf(reason !== null)('real addon: model suites end to end', () => {
  it('dilbench inference on a tiny YAML model: identical tokens, files written', async () => {
    const model = join(dir, 'tiny.yaml');
    writeFileSync(model, TINY);
    const out = join(dir, 'inf');
    const r = await cli([
      'inference',
      '--model',
      model,
      '--prompt',
      'Hello world, this is a test',
      '--max-length',
      '8',
      '--runs',
      '2',
      '--warmup',
      '1',
      '--threads',
      '1',
      '--benchmark-dir',
      out,
    ]);
    expect(r.text).toMatch(/tokens identical/);
    expect(r.code).toBe(0);
    const json = JSON.parse(
      readFileSync(join(out, 'inference_metrics.json'), 'utf8'),
    ) as InferenceMetricsFile;
    expect(json.runs).toHaveLength(2);
    const [base, opt] = json.runs;
    expect(opt!.tokens_identical).toBe(true);
    expect(opt!.kv_cache_mb).toBeGreaterThan(0);
    expect(base!.weights_mb).toBeGreaterThan(0);
    expect(opt!.speedup).toBeGreaterThan(0);
    expect(
      readFileSync(join(out, 'optimization_comparison.png')).subarray(1, 4).toString('latin1'),
    ).toBe('PNG');
  });

  it('dilbench inference --checkpoint with a tiny GPT-2 safetensors file; a wrong shape names the tensor', async () => {
    const model = join(dir, 'tiny.yaml');
    writeFileSync(model, TINY);
    const config = validateModelConfig((await import('yaml')).parse(TINY));
    const tensors = seededTensors(config, 12345, (name, u) =>
      name.endsWith('ln_1.weight') || name.endsWith('ln_2.weight') || name === 'ln_f.weight'
        ? 1
        : (u - 0.5) * 0.1,
    );
    const ckpt = join(dir, 'tiny.safetensors');
    writeSafetensors(ckpt, tensors);
    const out = join(dir, 'ckpt');
    const ok = await cli([
      'inference',
      '--model',
      model,
      '--checkpoint',
      ckpt,
      '--prompt-length',
      '6',
      '--max-length',
      '5',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--threads',
      '1',
      '--benchmark-dir',
      out,
      '--no-plots',
    ]);
    expect(ok.text).toMatch(/tokens identical/);
    expect(ok.code).toBe(0);
    writeSafetensors(ckpt, {
      ...tensors,
      'h.0.mlp.c_fc.weight': { shape: [32, 32], data: new Float32Array(32 * 32) },
    });
    const bad = await cli([
      'inference',
      '--model',
      model,
      '--checkpoint',
      ckpt,
      '--prompt-length',
      '6',
      '--max-length',
      '5',
      '--benchmark-dir',
      out,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.text).toMatch(
      /tensor "h\.0\.mlp\.c_fc\.weight" has shape \[32, 32\], expected \[32, 64\]/,
    );
  });

  it('a GPT-2 checkpoint read from safetensors gives the same logits as the same tensors passed in memory', async () => {
    const { loadGpt2Checkpoint } = await import('../../src/models/gpt2-checkpoint.js');
    const config = validateModelConfig((await import('yaml')).parse(TINY));
    const tensors = seededTensors(config, 777, (_name, u) => (u - 0.5) * 0.2);
    const ckpt = join(dir, 'same.safetensors');
    // with the Hugging Face prefix, as hub files have it
    writeSafetensors(
      ckpt,
      Object.fromEntries(Object.entries(tensors).map(([k, v]) => [`transformer.${k}`, v])),
    );
    const b = loadBinding() as unknown as import('../../src/native/model-binding.js').ModelBinding;
    const fromFile = await b.createModel(config, loadGpt2Checkpoint(ckpt, config));
    const inMemory = await b.createModel(config, { tensors });
    const tokens = Int32Array.from([1, 17, 42, 299, 5, 8]);
    const opts = { implementation: 'flash', threads: 1 };
    const [a, c] = [await fromFile.forward(tokens, opts), await inMemory.forward(tokens, opts)];
    fromFile.dispose();
    inMemory.dispose();
    expect(a.length).toBe(tokens.length * config.vocabSize);
    expect(Array.from(a)).toEqual(Array.from(c));
  });

  it('every preset, shrunk to tiny sizes (same arch, norm, activation, positions, GQA ratio), builds on the native core; cached == uncached', async () => {
    const { loadModelConfig, modelPresetNames } = await import('../../src/models/config.js');
    const b = loadBinding() as unknown as import('../../src/native/model-binding.js').ModelBinding;
    for (const name of modelPresetNames()) {
      const full = loadModelConfig(name);
      const ratio = full.heads / full.kvHeads;
      const tiny = validateModelConfig({
        ...full,
        name: `${name}-tiny`,
        vocabSize: 97,
        maxPositions: 32,
        hidden: 32,
        heads: 4,
        kvHeads: 4 / Math.min(ratio, 4),
        headDim: full.headDim !== undefined ? 8 : undefined,
        layers: 2,
        ...(full.decoderLayers !== undefined ? { decoderLayers: 2 } : {}),
        intermediate: 48,
      });
      const m = await b.createModel(tiny, { seed: 3 });
      const prompt = Int32Array.from([5, 9, 11, 2]);
      if (tiny.arch === 'encoder') {
        const h = await m.forward(prompt, { implementation: 'flash', threads: 1 });
        expect(h.length, name).toBe(prompt.length * tiny.hidden);
      } else {
        const a = await m.generate(prompt, 5, {
          implementation: 'flash',
          threads: 1,
          useCache: true,
        });
        const c = await m.generate(prompt, 5, {
          implementation: 'flash',
          threads: 1,
          useCache: false,
        });
        expect(Array.from(a.tokens), name).toEqual(Array.from(c.tokens));
        expect(a.memory.kvCacheBytes, name).toBeGreaterThan(0);
      }
      m.dispose();
    }
  });

  it('dilbench scaling on tiny encoder, decoder and encoder-decoder models', async () => {
    const out = join(dir, 'scaling');
    const archs: [string, string][] = [
      [
        'encoder',
        TINY.replace('name: tiny-gpt2', 'name: tiny-enc').replace('arch: decoder', 'arch: encoder'),
      ],
      ['decoder', TINY],
      [
        'encoder-decoder',
        TINY.replace('name: tiny-gpt2', 'name: tiny-t5')
          .replace('arch: decoder', 'arch: encoder-decoder\ndecoderLayers: 2')
          .replace('norm: layernorm', 'norm: rmsnorm')
          .replace('activation: gelu', 'activation: relu')
          .replace('positional: learned', 'positional: none'),
      ],
    ];
    for (const [arch, yaml] of archs) {
      const m = join(dir, `${arch}.yaml`);
      writeFileSync(m, yaml);
      const cfg = join(dir, `${arch}-scaling.yaml`);
      writeFileSync(
        cfg,
        `name: tiny_${arch}\narch: ${arch}\nmodel: ${m}\ncontext_lengths: [8, 16, 32]\nnum_tokens: ${arch === 'encoder' ? 0 : 4}\nnum_runs: 2\nwarmup_runs: 1\nimplementation: flash\n`,
      );
      const r = await cli(['scaling', '--config', cfg, '--out', out, '--threads', '1']);
      expect(r.text).toContain('table:');
      expect(r.code).toBe(0);
    }
    const lines = readFileSync(join(out, 'tables', 'inference_results.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(lines).toHaveLength(1 + 9);
    expect(
      readFileSync(join(out, 'figs', 'latency_curve.png'))
        .subarray(1, 4)
        .toString('latin1'),
    ).toBe('PNG');
  });
});
