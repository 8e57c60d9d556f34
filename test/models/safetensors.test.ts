import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  encodeSafetensors,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
  type Tensor,
} from '../../src/models/safetensors.js';
import { gpt2TensorShapes, loadGpt2Checkpoint } from '../../src/models/gpt2-checkpoint.js';
import type { ModelConfig } from '../../src/native/model-binding.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tensor(shape: number[], f: (i: number) => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, (_, i) => f(i)) };
}

function header(buf: Buffer): Record<string, unknown> {
  const n = Number(buf.readBigUInt64LE(0));
  return JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
}

function withHeader(buf: Buffer, h: Record<string, unknown>): Buffer {
  const oldLen = Number(buf.readBigUInt64LE(0));
  const hb = Buffer.from(JSON.stringify(h));
  const out = Buffer.alloc(8 + hb.length + buf.length - 8 - oldLen);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  buf.copy(out, 8 + hb.length, 8 + oldLen);
  return out;
}

export const TINY: ModelConfig = {
  name: 'tiny-gpt2',
  arch: 'decoder',
  vocabSize: 50,
  maxPositions: 16,
  hidden: 8,
  layers: 2,
  heads: 2,
  kvHeads: 2,
  intermediate: 32,
  norm: 'layernorm',
  activation: 'gelu',
  positional: 'learned',
  tiedEmbeddings: true,
};

describe('safetensors', () => {
  it('round-trips F32 tensors with their shapes and metadata', () => {
    const tensors = {
      a: tensor([2, 3], (i) => i * 0.5 - 1),
      'b.weight': tensor([4], (i) => Math.sin(i)),
      empty: tensor([0, 3], () => 0),
    };
    const p = join(dir, 'rt.safetensors');
    writeSafetensors(p, tensors, { format: 'pt' });
    const back = readSafetensors(p);
    expect(back.metadata).toEqual({ format: 'pt' });
    expect(Object.keys(back.tensors).sort()).toEqual(['a', 'b.weight', 'empty']);
    for (const [k, t] of Object.entries(tensors)) {
      expect(back.tensors[k]!.shape).toEqual(t.shape);
      expect(Array.from(back.tensors[k]!.data)).toEqual(Array.from(t.data));
    }
    expect((8 + Number(readFileSync(p).readBigUInt64LE(0))) % 8).toBe(0);
  });

  it('converts F16 and BF16 to fp32', () => {
    const base = encodeSafetensors({ x: tensor([2], () => 0) });
    // x: F16 [1.0, -2.5] (0x3c00, 0xc100); y: BF16 [1.0, 3.0] (0x3f80, 0x4040)
    const data = Buffer.from([0x00, 0x3c, 0x00, 0xc1, 0x80, 0x3f, 0x40, 0x40]);
    const h = {
      x: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      y: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
    };
    const hb = Buffer.from(JSON.stringify(h));
    const buf = Buffer.concat([Buffer.alloc(8), hb, data]);
    buf.writeBigUInt64LE(BigInt(hb.length), 0);
    const f = readSafetensors(buf);
    expect(Array.from(f.tensors.x!.data)).toEqual([1, -2.5]);
    expect(Array.from(f.tensors.y!.data)).toEqual([1, 3]);
    expect(f.dtypes).toEqual({ x: 'F16', y: 'BF16' });
    expect(base.length).toBeGreaterThan(8);
  });

  it('gives clear errors for a corrupt header, a wrong shape, bad offsets and dtypes, naming the tensor', () => {
    const good = encodeSafetensors({ 'h.0.w': tensor([2, 2], (i) => i) });
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(10n ** 12n, 0);
    expect(() => readSafetensors(huge, 'f')).toThrow(/header length .* exceeds the file/);
    const garbled = Buffer.from(good);
    garbled[8] = 0x7b + 1; // '{' -> '|'
    expect(() => readSafetensors(garbled, 'f')).toThrow(/header is not valid JSON/);
    expect(() => readSafetensors(Buffer.alloc(3), 'f')).toThrow(/too short/);
    const h = header(good) as Record<
      string,
      { shape: number[]; dtype: string; data_offsets: number[] }
    >;
    const wrongShape = withHeader(good, { ...h, 'h.0.w': { ...h['h.0.w']!, shape: [3, 2] } });
    try {
      readSafetensors(wrongShape, 'f');
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(SafetensorsError);
      expect((e as SafetensorsError).tensor).toBe('h.0.w');
      expect((e as Error).message).toMatch(
        /tensor "h\.0\.w": shape \[3,2\] .* needs 24 bytes, data_offsets give 16/,
      );
    }
    expect(() =>
      readSafetensors(
        withHeader(good, { ...h, 'h.0.w': { ...h['h.0.w']!, data_offsets: [0, 999] } }),
        'f',
      ),
    ).toThrow(/tensor "h\.0\.w": data_offsets \[0, 999\] lie outside/);
    expect(() =>
      readSafetensors(withHeader(good, { ...h, 'h.0.w': { ...h['h.0.w']!, dtype: 'I64' } }), 'f'),
    ).toThrow(/tensor "h\.0\.w": dtype "I64" is not supported/);
  });

  it('GPT-2 checkpoints: names checked against the config, mismatches name the tensor', () => {
    const shapes = gpt2TensorShapes(TINY);
    const tensors: Record<string, Tensor> = {};
    for (const [name, shape] of shapes)
      tensors[`transformer.${name}`] = tensor(shape, (i) => (i % 7) * 0.01);
    tensors['transformer.h.0.attn.bias'] = tensor([1, 1, 16, 16], () => 1); // mask buffer: ignored
    const p = join(dir, 'tiny.safetensors');
    writeSafetensors(p, tensors);
    // a bool mask buffer (dtype BOOL) is skipped, not rejected
    const buf = encodeSafetensors(tensors);
    const hdr = header(buf) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: number[] }
    >;
    hdr['transformer.h.0.attn.bias'] = {
      dtype: 'BOOL',
      shape: [1, 1, 16, 16],
      data_offsets: [
        hdr['transformer.h.0.attn.bias']!.data_offsets[0]!,
        hdr['transformer.h.0.attn.bias']!.data_offsets[0]! + 256,
      ],
    };
    writeFileSync(p, withHeader(buf, hdr));
    expect(Object.keys(loadGpt2Checkpoint(p, TINY).tensors)).not.toContain('h.0.attn.bias');
    writeSafetensors(p, tensors);
    const w = loadGpt2Checkpoint(p, TINY);
    expect(Object.keys(w.tensors).sort()).toEqual([...shapes.keys()].sort());
    expect(w.tensors['h.1.mlp.c_fc.weight']!.shape).toEqual([8, 32]);

    const wrong = { ...tensors, 'transformer.h.1.attn.c_attn.weight': tensor([8, 8], () => 0) };
    writeSafetensors(p, wrong);
    expect(() => loadGpt2Checkpoint(p, TINY)).toThrow(
      /tensor "h\.1\.attn\.c_attn\.weight" has shape \[8, 8\], expected \[8, 24\]/,
    );
    const { 'transformer.ln_f.bias': _drop, ...missing } = tensors;
    writeSafetensors(p, missing);
    expect(() => loadGpt2Checkpoint(p, TINY)).toThrow(/tensor "ln_f\.bias" is missing/);
    writeSafetensors(p, { ...tensors, 'transformer.h.2.ln_1.weight': tensor([8], () => 0) });
    expect(() => loadGpt2Checkpoint(p, TINY)).toThrow(
      /tensor "h\.2\.ln_1\.weight" is not a GPT-2 weight/,
    );
    writeFileSync(p, 'not a safetensors file at all');
    expect(() => loadGpt2Checkpoint(p, TINY)).toThrow(SafetensorsError);
  });
});
