// dilbench's `dilated` and `dilated-grouped` written in PyTorch (src/frameworks/python/torch_dilated.py,
// the bench's dilated-vs-torch baseline) against the native float64 reference of the same definition,
// through the same subprocess adapter the bench uses. Shapes where the last segment is short, a pair
// shrinks to seqLen, heads do not divide evenly into groups, and batch > 1. Skips, saying why, where
// torch or the addon is missing.
import { describe, expect, it } from 'vitest';

const { PyTorchAdapter, torchUnavailableReason } = await import('../../src/frameworks/pytorch.js');
const { DilbenchAdapter, nativeProblem } = await import('../../src/frameworks/dilbench.js');
const { loadBinding } = await import('../../src/native/loader.js');
const { errors, toleranceFor, validationOf } = await import('../../src/results/validation.js');

let binding: ReturnType<typeof loadBinding> | null = null;
let skip: string | null = null;
try {
  binding = loadBinding();
} catch (e) {
  skip = `native addon unavailable: ${(e as Error).message.split('\n')[0]}`;
}
skip ??= torchUnavailableReason();
if (skip) console.warn(`torch dilated test skipped: ${skip}`);

const shapes = [
  // 5 segments of 16 + a short one of 7 for w 16; w 32 at r 2: a short last segment of 23; w 128 > seqLen
  {
    batch: 2,
    heads: 5,
    seqLen: 87,
    headDim: 16,
    segmentLengths: [16, 32, 128],
    dilationRates: [1, 2, 4],
  },
  // 8 heads over 3 pairs (groups of 3, 3, 2), the bench's pairs scaled down
  {
    batch: 1,
    heads: 8,
    seqLen: 256,
    headDim: 32,
    segmentLengths: [32, 64, 128],
    dilationRates: [1, 2, 4],
  },
];

describe.skipIf(skip !== null)(
  'PyTorch dilated / dilated-grouped (torch_dilated.py) vs the float64 reference',
  () => {
    for (const implementation of ['dilated', 'dilated-grouped'] as const) {
      for (const causal of [false, true]) {
        for (const shape of shapes) {
          it(`${implementation}${causal ? ' causal' : ''} ${shape.heads} heads, seqLen ${shape.seqLen}, pairs ${shape.segmentLengths}/${shape.dilationRates}`, async () => {
            const b = binding as NonNullable<typeof binding>;
            const spec = {
              ...shape,
              causal,
              threads: 1,
              implementation,
              dtype: 'fp32' as const,
              seed: 11,
            };
            const d = await DilbenchAdapter.create(b, spec);
            const p = await PyTorchAdapter.create(spec, d.inputs(), implementation);
            if ('skipped' in p) throw new Error(p.reason);
            try {
              expect(p.description).toContain(`dilbench '${implementation}' in PyTorch`);
              const { q, k, v } = d.inputs();
              const ref = await b.reference(nativeProblem(spec), q, k, v);
              const out = await p.output();
              expect(out).toHaveLength(ref.length);
              const v1 = validationOf('reference', errors(out, ref), toleranceFor('fp32'), 'fp32');
              expect(v1.passed, JSON.stringify(v1)).toBe(true);
              if (shape !== shapes[0] || causal) return;
              // the selection is not dense attention: rows some pair skips differ from dense SDPA's
              const dense = await PyTorchAdapter.create(
                { ...spec, implementation: 'flash' },
                d.inputs(),
              );
              if ('skipped' in dense) throw new Error(dense.reason);
              try {
                expect(errors(await dense.output(), ref).maxAbsError).toBeGreaterThan(1e-2);
              } finally {
                await dense.dispose();
              }
            } finally {
              await p.dispose();
              await d.dispose();
            }
          });
        }
      }
    }

    it('refuses a dilated run without pairs, naming the fields', async () => {
      const b = binding as NonNullable<typeof binding>;
      const spec = {
        batch: 1,
        heads: 2,
        seqLen: 32,
        headDim: 8,
        causal: false,
        threads: 1,
        implementation: 'dilated',
        dtype: 'fp32' as const,
        seed: 1,
      };
      const d = await DilbenchAdapter.create(b, spec);
      try {
        await expect(PyTorchAdapter.create(spec, d.inputs(), 'dilated')).rejects.toThrow(
          /segmentLengths and spec\.dilationRates/,
        );
      } finally {
        await d.dispose();
      }
    });
  },
);
