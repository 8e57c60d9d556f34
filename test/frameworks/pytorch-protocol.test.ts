// The PyTorch subprocess protocol (src/frameworks/python/torch_attention.py), twice: against the
// real torch of DILBENCH_PYTHON (or python3) when it imports, and against a stand-in `torch`
// package written here (numpy-backed scaled_dot_product_attention), so the adapter, the .bin input
// hand-over, timing and output read-back are tested where real torch is absent too. Each block
// skips, saying why, when its Python is missing.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';

const realPython = process.env.DILBENCH_PYTHON || 'python3';
const numpyOk = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'dilbench-fake-torch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

if (numpyOk) {
  mkdirSync(join(dir, 'torch', 'nn'), { recursive: true });
  writeFileSync(
    join(dir, 'torch', '__init__.py'),
    `__version__ = "0.0-fake-numpy"
_threads = [1]
def set_num_threads(n): _threads[0] = n
def get_num_threads(): return _threads[0]
def set_grad_enabled(b): pass
float32, float16, bfloat16 = "float32", "float16", "bfloat16"
class Tensor:
    def __init__(self, a): self.a = a
    def reshape(self, *s): return Tensor(self.a.reshape(*s))
    def to(self, dtype):
        if dtype != float32: raise TypeError("the numpy stand-in runs float32 only")
        return self
    def float(self): return self
    def contiguous(self): return self
    def numpy(self): return self.a
def from_numpy(a): return Tensor(a)
`,
  );
  writeFileSync(join(dir, 'torch', 'nn', '__init__.py'), 'from . import functional\n');
  writeFileSync(
    join(dir, 'torch', 'nn', 'functional.py'),
    `import numpy as np
def scaled_dot_product_attention(q, k, v, is_causal=False, scale=None):
    from torch import Tensor
    Q, K, V = (t.a.astype(np.float64) for t in (q, k, v))
    s = (Q @ np.swapaxes(K, -1, -2)) * scale
    if is_causal:
        n = s.shape[-1]
        s = s + np.triu(np.full((n, n), -np.inf), 1)
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    s /= s.sum(axis=-1, keepdims=True)
    return Tensor((s @ V).astype(np.float32))
`,
  );
}

const { PyTorchAdapter, torchUnavailableReason } = await import('../../src/frameworks/pytorch.js');
const { DilbenchAdapter } = await import('../../src/frameworks/dilbench.js');
const { outputDifference } = await import('../../src/frameworks/compare.js');
const { loadBinding } = await import('../../src/native/loader.js');
const { errors, toleranceFor, validationOf } = await import('../../src/results/validation.js');
type NativeBinding = ReturnType<typeof loadBinding>;

let binding: ReturnType<typeof loadBinding> | null = null;
let noAddon: string | null = null;
try {
  binding = loadBinding();
} catch (e) {
  noAddon = `native addon unavailable: ${(e as Error).message.split('\n')[0]}`;
}

/** python3 with the stand-in package first on its path: a separate executable name keeps the probe cache apart */
const standInPython = join(dir, 'python-stand-in');
writeFileSync(
  standInPython,
  `#!/bin/sh\nPYTHONPATH="${dir}\${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$@"\n`,
  { mode: 0o755 },
);

const sides = [
  { label: 'real torch', python: realPython, skip: noAddon ?? torchUnavailableReason(realPython) },
  {
    label: 'numpy stand-in',
    python: standInPython,
    skip:
      noAddon ?? (numpyOk ? torchUnavailableReason(standInPython) : 'python3 with numpy not found'),
  },
];

for (const side of sides) {
  if (side.skip) console.warn(`pytorch protocol test (${side.label}) skipped: ${side.skip}`);
  describe.skipIf(side.skip !== null)(`PyTorch subprocess adapter (${side.label})`, () => {
    const saved = process.env.DILBENCH_PYTHON;
    beforeEach(() => {
      process.env.DILBENCH_PYTHON = side.python;
    });
    afterEach(() => {
      if (saved === undefined) delete process.env.DILBENCH_PYTHON;
      else process.env.DILBENCH_PYTHON = saved;
    });
    if (side.label === 'real torch') {
      for (const dtype of ['fp16', 'bf16'] as const) {
        it(`${dtype}: torch gets the values dilbench stores and agrees within the ${dtype} partner tolerance`, async () => {
          const spec = {
            batch: 1,
            heads: 2,
            seqLen: 48,
            headDim: 32,
            causal: true,
            threads: 1,
            implementation: 'flash',
            dtype,
            seed: 5,
          };
          const d = await DilbenchAdapter.create(binding as NativeBinding, spec);
          const p = await PyTorchAdapter.create(spec, d.inputs());
          if ('skipped' in p) throw new Error(p.reason);
          try {
            expect(p.description).toContain(dtype === 'fp16' ? 'torch.float16' : 'torch.bfloat16');
            const v = validationOf(
              'dilbench:flash',
              errors(await p.output(), await d.output()),
              toleranceFor(dtype, {}, true),
              dtype,
            );
            expect(v.passed, JSON.stringify(v)).toBe(true);
            expect(v.maxAbsError).toBeGreaterThan(0); // half arithmetic somewhere: not bit-identical
          } finally {
            await p.dispose();
            await d.dispose();
          }
        });
      }
    }
    for (const causal of [false, true]) {
      it(`${causal ? 'causal' : 'non-causal'}: same inputs, timed samples, output equals dilbench flash`, async () => {
        const spec = {
          batch: 1,
          heads: 2,
          seqLen: 40,
          headDim: 16,
          causal,
          threads: 1,
          implementation: 'flash',
          dtype: 'fp32' as const,
          seed: 3,
        };
        const d = await DilbenchAdapter.create(binding as NonNullable<typeof binding>, spec);
        const p = await PyTorchAdapter.create(spec, d.inputs());
        if ('skipped' in p) throw new Error(p.reason);
        try {
          expect(p.version).toMatch(
            side.label === 'real torch' ? /^torch \d+\.\d+/ : /^torch 0\.0-fake-numpy$/,
          );
          // the thread count torch really uses, and (real torch) the SDPA kernel it dispatches to
          expect(p.description).toMatch(/, 1 threads\)/);
          if (side.label === 'real torch') expect(p.description).toMatch(/dispatches to [A-Z_]+/);
          expect(p.setupMs).toBeGreaterThan(0);
          const ns = await p.sampler.sample(3);
          expect(ns).toHaveLength(3);
          for (const x of ns) expect(x).toBeGreaterThan(0);
          const mem = p.peakMemory();
          expect(mem?.kind).toBe('rss-delta');
          // measured after `import torch`: far below the ~100+ MB torch itself costs
          if (side.label === 'real torch') expect(mem!.bytes).toBeLessThan(64 * 2 ** 20);
          const diff = outputDifference(await p.output(), await d.output());
          expect(diff.maxAbsError).toBeLessThan(1e-4);
        } finally {
          await p.dispose();
          await d.dispose();
        }
      });
    }
  });
}
