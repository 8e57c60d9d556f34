// The PyTorch subprocess protocol (src/frameworks/python/torch_attention.py) against a stand-in
// `torch` package written here (numpy-backed scaled_dot_product_attention), so the adapter, the
// .bin input hand-over, timing and output read-back are tested where real torch is absent. With
// real torch installed the same test runs against it. Skips (saying why) without python3 + numpy.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const realTorch = spawnSync('python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
const numpyOk = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'dilbench-fake-torch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

if (!realTorch && numpyOk) {
  mkdirSync(join(dir, 'torch', 'nn'), { recursive: true });
  writeFileSync(
    join(dir, 'torch', '__init__.py'),
    `__version__ = "0.0-fake-numpy"
_threads = [1]
def set_num_threads(n): _threads[0] = n
def get_num_threads(): return _threads[0]
def set_grad_enabled(b): pass
class Tensor:
    def __init__(self, a): self.a = a
    def reshape(self, *s): return Tensor(self.a.reshape(*s))
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
  process.env.PYTHONPATH = [dir, process.env.PYTHONPATH].filter(Boolean).join(':');
}

const { PyTorchAdapter, torchUnavailableReason } = await import('../../src/frameworks/pytorch.js');
const { DilbenchAdapter } = await import('../../src/frameworks/dilbench.js');
const { outputDifference } = await import('../../src/frameworks/compare.js');
const { loadBinding } = await import('../../src/native/loader.js');

let skip: string | null = numpyOk || realTorch ? null : 'python3 with numpy not found';
let binding: ReturnType<typeof loadBinding> | null = null;
if (!skip) {
  try {
    binding = loadBinding();
  } catch (e) {
    skip = `native addon unavailable: ${(e as Error).message.split('\n')[0]}`;
  }
}
if (!skip && torchUnavailableReason()) skip = torchUnavailableReason();
if (skip) console.warn(`pytorch protocol test skipped: ${skip}`);

describe.skipIf(skip !== null)(`PyTorch subprocess adapter (${realTorch ? 'real torch' : 'numpy stand-in'})`, () => {
  for (const causal of [false, true]) {
    it(`${causal ? 'causal' : 'non-causal'}: same inputs, timed samples, output equals dilbench flash`, async () => {
      const spec = { batch: 1, heads: 2, seqLen: 40, headDim: 16, causal, threads: 1, implementation: 'flash', dtype: 'fp32' as const, seed: 3 };
      const d = await DilbenchAdapter.create(binding as NonNullable<typeof binding>, spec);
      const p = await PyTorchAdapter.create(spec, d.inputs());
      if ('skipped' in p) throw new Error(p.reason);
      try {
        expect(p.version).toMatch(/^torch /);
        expect(p.setupMs).toBeGreaterThan(0);
        const ns = await p.sampler.sample(3, false);
        expect(ns).toHaveLength(3);
        for (const x of ns) expect(x).toBeGreaterThan(0);
        expect(p.peakMemory()?.kind).toBe('rss-delta');
        const diff = outputDifference(await p.output(), await d.output());
        expect(diff.maxAbsError).toBeLessThan(1e-4);
      } finally {
        await p.dispose();
        await d.dispose();
      }
    });
  }
});
