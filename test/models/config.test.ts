import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import {
  loadModelConfig,
  modelPresetNames,
  parameterCount,
  validateModelConfig,
} from '../../src/models/config.js';
import { encodeGpt2, decodeGpt2, tokenizeFor } from '../../src/models/tokenizer.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-models-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('model presets', () => {
  it('ships the five presets and every one validates', () => {
    const names = modelPresetNames();
    for (const n of ['gpt2', 'gpt2-medium', 'bert-base', 't5-base', 'llama-3.2-1b'])
      expect(names).toContain(n);
    for (const n of names) {
      const c = loadModelConfig(n);
      expect(c.name).toBe(n);
    }
  });

  it('has the real shapes (parameter counts close to the published ones)', () => {
    const gpt2 = loadModelConfig('gpt2');
    expect(gpt2).toMatchObject({
      vocabSize: 50257,
      maxPositions: 1024,
      hidden: 768,
      layers: 12,
      heads: 12,
      intermediate: 3072,
      tiedEmbeddings: true,
    });
    expect(parameterCount(gpt2) / 1e6).toBeCloseTo(124.4, 0);
    expect(parameterCount(loadModelConfig('gpt2-medium')) / 1e6).toBeCloseTo(354.8, 0);
    const llama = loadModelConfig('llama-3.2-1b');
    expect(llama).toMatchObject({
      kvHeads: 8,
      heads: 32,
      norm: 'rmsnorm',
      activation: 'swiglu',
      ropeTheta: 500000,
    });
    expect(parameterCount(llama) / 1e9).toBeCloseTo(1.236, 2);
    expect(loadModelConfig('t5-base')).toMatchObject({
      arch: 'encoder-decoder',
      decoderLayers: 12,
      positional: 'none',
    });
    expect(loadModelConfig('bert-base')).toMatchObject({
      arch: 'encoder',
      vocabSize: 30522,
      maxPositions: 512,
    });
  });

  it('accepts a user YAML path', () => {
    const p = join(dir, 'tiny.yaml');
    writeFileSync(
      p,
      'name: tiny\narch: decoder\nvocabSize: 64\nmaxPositions: 32\nhidden: 16\nlayers: 2\nheads: 2\nkvHeads: 2\nintermediate: 32\nnorm: layernorm\nactivation: gelu\npositional: learned\ntiedEmbeddings: true\n',
    );
    expect(loadModelConfig(p)).toMatchObject({ name: 'tiny', hidden: 16 });
  });

  it('errors name the field, the value and what is allowed', () => {
    const base = loadModelConfig('gpt2');
    const err = (raw: unknown): ConfigError => {
      try {
        validateModelConfig(raw);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return e as ConfigError;
      }
      throw new Error('no error');
    };
    let e = err({ ...base, norm: 'batchnorm' });
    expect(e.field).toBe('model.norm');
    expect(e.message).toContain('"batchnorm"');
    expect(e.message).toContain('layernorm, rmsnorm');
    e = err({ ...base, kvHeads: 5 });
    expect(e.field).toBe('model.kvHeads');
    e = err({ ...base, hidden: -3 });
    expect(e.field).toBe('model.hidden');
    e = err({ ...base, hiden: 3 });
    expect(e.field).toBe('model.hiden');
    expect(e.message).toContain('unknown field');
    const { vocabSize: _v, ...noVocab } = base;
    expect(err(noVocab).field).toBe('model.vocabSize');
    expect(err({ ...base, arch: 'encoder-decoder' }).field).toBe('model.decoderLayers');
    expect(() => loadModelConfig('no-such-model')).toThrow(/invalid model: "no-such-model".*gpt2/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: x\narch: decoder\nvocabSize: many\n');
    expect(() => loadModelConfig(bad)).toThrow(/model\(bad\.yaml\)\.vocabSize: "many"/);
  });
});

describe('GPT-2 tokenization', () => {
  it('round-trips text through r50k_base and folds ids into smaller vocabularies', () => {
    const ids = encodeGpt2('Hello world');
    expect(Array.from(ids)).toEqual([15496, 995]);
    expect(decodeGpt2(ids)).toBe('Hello world');
    expect(Array.from(tokenizeFor('Hello world', 1000))).toEqual([496, 995]);
  });
});
