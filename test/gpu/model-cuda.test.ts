// GPU tests of the CUDA transformer model (native/cuda/model): for tiny decoder, encoder and
// encoder-decoder configs and a gpt2-shaped 2-layer model, the CUDA model's outputs against the
// CPU model's in fp32 (relL2 <= 1e-4) and fp16 / bf16 (<= 2e-2, see TOL in model-checks.mjs),
// cached == uncached == CPU greedy tokens in fp32, event timings and the memory report.
// Skipped, with the reason, without a CUDA build carrying the model or without a GPU.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import type { NativeBinding } from '../../src/native/binding.js';
import type { ModelBinding } from '../../src/native/model-binding.js';
// @ts-expect-error plain ESM module shared with run-model-checks.mjs
import * as mc from './model-checks.mjs';

type Binding = NativeBinding & ModelBinding;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const found = mc.loadCudaModelBinary(createRequire(import.meta.url), root) as {
  binding: Binding | null;
  file: string | null;
  tried: string[];
};
let binding: Binding | null = found.binding;
let skipReason = binding ? '' : `no CUDA build carrying the CUDA model (${found.tried.join('; ')})`;
if (binding && binding.info().cuda.deviceCount < 1) {
  skipReason = `no CUDA device (${found.file} reports 0 devices)`;
  binding = null;
}
if (!binding) console.log(`test/gpu model-cuda skipped: ${skipReason}`);

interface CaseResult {
  label: string;
  dtype: string;
  failures: string[];
  forward?: { relL2: number };
  tokenAgreement?: number;
}

describe.skipIf(!binding)('CUDA transformer model on the GPU', () => {
  const b = binding as Binding;
  for (const c of mc.modelCases() as { label: string; paths: string }[]) {
    it(`${c.label} (${c.paths}): fp32 / fp16 / bf16 against the CPU model`, async () => {
      const results = (await mc.checkModelCase(b, c)) as CaseResult[];
      for (const r of results) {
        console.log(
          `${r.label} ${r.dtype}: forward relL2 ${r.forward?.relL2?.toExponential(3)}` +
            (r.tokenAgreement !== undefined
              ? `, tokens equal to the CPU's: ${(100 * r.tokenAgreement).toFixed(0)}%`
              : ''),
        );
        expect(r.failures, `${r.label} ${r.dtype}`).toEqual([]);
      }
    });
  }

  it('an implementation the CUDA model does not run is ERR_DILBENCH_UNSUPPORTED; the model goes on', async () => {
    for (const r of (await mc.checkModelErrors(b)) as { what: string; ok: boolean; got: string }[])
      expect(r.ok, `${r.what}: ${r.got}`).toBe(true);
  });
});
