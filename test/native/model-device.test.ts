// Model placement (createModel's { device, dtype }) on a machine without a GPU: the binding's
// validation errors, fp16/bf16 refused on the CPU, device 'cuda' refused with the reason by the
// CPU-only build ("built without CUDA") and by the CUDA build with zero devices ("no CUDA
// device"), the process working on afterwards; and, on the CPU, the float64 emulation of the
// CUDA model's fp16/bf16 rounding that sizes test/gpu's tolerances (test/gpu/model-checks.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { ErrorCodes, type NativeBinding } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';
import type { ModelBinding, ModelConfig, ModelPlacement } from '../../src/native/model-binding.js';
// @ts-expect-error plain ESM module shared with test/gpu/run-model-checks.mjs
import * as mc from '../gpu/model-checks.mjs';
import { catchAsync, expectCoded } from './helpers.js';

type Binding = NativeBinding & ModelBinding;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const native = loadBinding() as Binding;
const tiny = (mc.modelCases() as { config: ModelConfig }[])[0]!.config;
const prompt = mc.promptFor(tiny, 9) as Int32Array;

describe('model placement: validation', () => {
  it('bad device, dtype, options object and unknown keys are ERR_DILBENCH_INVALID_CONFIG naming the field', async () => {
    const bad: [unknown, string][] = [
      [{ device: 'gpu' }, 'device'],
      [{ device: 1 }, 'device'],
      [{ dtype: 'fp8' }, 'dtype'],
      [{ dtype: 'FP16' }, 'dtype'],
      ['cuda', 'options'],
      [[], 'options'],
      [{ devcie: 'cuda' }, 'devcie'],
    ];
    for (const [placement, field] of bad) {
      const err = await catchAsync(
        native.createModel(tiny, { seed: 1 }, placement as ModelPlacement),
      );
      expectCoded(err, ErrorCodes.INVALID_CONFIG, field);
    }
  });

  it('fp16 / bf16 on the CPU are ERR_DILBENCH_UNSUPPORTED: the CPU model runs fp32', async () => {
    for (const dtype of ['fp16', 'bf16'] as const) {
      for (const placement of [{ dtype }, { device: 'cpu' as const, dtype }]) {
        const err = await catchAsync(native.createModel(tiny, { seed: 1 }, placement));
        expectCoded(err, ErrorCodes.UNSUPPORTED, 'dtype');
        expect(err.message).toMatch(/CPU model runs fp32 only/);
      }
    }
  });

  it('no placement, {} and { device: cpu, dtype: fp32 } give the same CPU fp32 model', async () => {
    const outs: Float32Array[] = [];
    for (const placement of [undefined, {}, { device: 'cpu', dtype: 'fp32' }] as (
      ModelPlacement | undefined
    )[]) {
      const m = await native.createModel(tiny, { seed: 4 }, placement);
      expect(m.device).toBe('cpu');
      expect(m.dtype).toBe('fp32');
      outs.push(await m.forward(prompt, { implementation: 'flash', threads: 1 }));
      m.dispose();
    }
    expect(Array.from(outs[1]!)).toEqual(Array.from(outs[0]!));
    expect(Array.from(outs[2]!)).toEqual(Array.from(outs[0]!));
  });

  it('device cuda on the loaded addon is ERR_DILBENCH_UNSUPPORTED with the reason', async () => {
    const compiled = native.modelInfo().cudaCompiled === true;
    expect(compiled).toBe(native.info().cuda.compiled);
    if (compiled && native.info().cuda.deviceCount > 0) {
      console.log('model placement: this addon has a CUDA device; test/gpu covers device cuda');
      return;
    }
    const err = await catchAsync(
      native.createModel(tiny, { seed: 1 }, { device: 'cuda', dtype: 'fp16' }),
    );
    expectCoded(err, ErrorCodes.UNSUPPORTED, 'device');
    expect(err.message).toMatch(compiled ? /no CUDA device/ : /built without CUDA/);
  });
});

// ---- the CUDA variant with zero devices -------------------------------------------------------------

const found = mc.loadCudaModelBinary(createRequire(import.meta.url), root) as {
  binding: Binding | null;
  file: string | null;
  tried: string[];
};
let variant: Binding | null = found.binding;
let skipReason = variant ? '' : `no CUDA build carrying the CUDA model (${found.tried.join('; ')})`;
if (variant && variant.info().cuda.deviceCount > 0) {
  skipReason = `${found.file} sees a CUDA device: the zero-device path is not reachable (test/gpu covers the GPU)`;
  variant = null;
}
if (!variant) console.log(`model placement, zero-device tests skipped: ${skipReason}`);

describe.skipIf(!variant)('model placement: CUDA build with zero devices', () => {
  const b = variant as Binding;

  it('reports the CUDA model compiled in and 0 devices', () => {
    expect(b.modelInfo().cudaCompiled).toBe(true);
    expect(b.info().cuda.compiled).toBe(true);
    expect(b.info().cuda.deviceCount).toBe(0);
  });

  it('device cuda (every dtype, seeded and explicit weights) fails with "no CUDA device" naming the device; the process goes on', async () => {
    const tensors = mc.makeTensors(tiny, 2);
    for (const dtype of ['fp32', 'fp16', 'bf16'] as const) {
      for (const weights of [{ seed: 1 }, { tensors }]) {
        const err = await catchAsync(b.createModel(tiny, weights, { device: 'cuda', dtype }));
        expectCoded(err, ErrorCodes.UNSUPPORTED, 'device');
        expect(err.message).toMatch(/no CUDA device/);
        expect(err.message).toMatch(/use device 'cpu'/);
      }
    }
    // the same binary's CPU model still computes: forward matches the float64 reference, and
    // cached and uncached generation agree
    const m = await b.createModel(tiny, { tensors }, { device: 'cpu' });
    const got = await m.forward(prompt, { implementation: 'flash', threads: 1 });
    const cmp = mc.compareOutputs(got, mc.referenceForward(tiny, tensors, prompt));
    expect(cmp.finite).toBe(true);
    expect(cmp.relL2).toBeLessThanOrEqual(1e-5);
    const cached = await m.generate(prompt, 6, {
      implementation: 'flash',
      threads: 1,
      useCache: true,
    });
    const uncached = await m.generate(prompt, 6, {
      implementation: 'naive',
      threads: 1,
      useCache: false,
    });
    expect(Array.from(cached.tokens)).toEqual(Array.from(uncached.tokens));
    m.dispose();
  });

  it('argument errors come before the device check', async () => {
    expectCoded(
      await catchAsync(
        b.createModel(tiny, { seed: 1 }, { device: 'cuda', dtype: 'int8' as never }),
      ),
      ErrorCodes.INVALID_CONFIG,
      'dtype',
    );
    expectCoded(
      await catchAsync(
        b.createModel({ ...tiny, heads: 3, kvHeads: 3 }, { seed: 1 }, { device: 'cuda' }),
      ),
      ErrorCodes.INVALID_CONFIG,
      'headDim',
    );
  });
});

// ---- the CUDA model's host code against host stand-ins of the kernels ------------------------------

// native/cuda/model/fake: transformer_cuda.cpp compiled unchanged against host implementations of
// the CUDA runtime and kernel launchers, compared with the CPU model (layouts, caches, attention
// dispatch, generation loop, memory report). A separate build (about 5 minutes on 2 cores), so
// it runs here only when built.
const fakeCheck =
  process.env.DILBENCH_MODEL_FAKE_CHECK ?? path.join(root, 'build-model-fake', 'model_fake_check');
const fakeSkip = existsSync(fakeCheck)
  ? ''
  : `${fakeCheck} is not built (cmake -S native/cuda/model/fake -B build-model-fake && cmake --build build-model-fake -j2)`;
if (fakeSkip) console.log(`model_fake_check skipped: ${fakeSkip}`);
const kernelsCheck = path.join(path.dirname(fakeCheck), 'model_kernels_check_fake');
if (!fakeSkip && !existsSync(kernelsCheck))
  console.log(
    `model_kernels_check_fake skipped: ${kernelsCheck} is not built (rebuild build-model-fake)`,
  );

describe.skipIf(!!fakeSkip)('the CUDA model host code on host stand-ins (model_fake_check)', () => {
  it('every config, dtype and attention path matches the CPU model; exit 0', () => {
    const r = spawnSync(fakeCheck, [], { encoding: 'utf8', timeout: 240_000 });
    const out = `${r.stdout}${r.stderr}`;
    expect(
      r.status,
      out
        .split('\n')
        .filter((l) => /FAIL|threw|ERROR/.test(l))
        .slice(0, 20)
        .join('\n'),
    ).toBe(0);
    expect(out).toMatch(/model_fake_check: 0 failure\(s\)/);
    expect((out.match(/forward relL2/g) ?? []).length).toBeGreaterThanOrEqual(50);
  }, 300_000);

  it.skipIf(!existsSync(kernelsCheck))(
    'model_kernels_check (the GPU kernel check) passes on the stand-ins: its references and tolerances are sound',
    () => {
      const r = spawnSync(kernelsCheck, [], { encoding: 'utf8', timeout: 120_000 });
      const out = `${r.stdout}${r.stderr}`;
      expect(
        r.status,
        out
          .split('\n')
          .filter((l) => /FAIL|FATAL/.test(l))
          .slice(0, 20)
          .join('\n'),
      ).toBe(0);
      expect(out).toMatch(/model_kernels_check: 0 of (\d+) failed/);
      expect(Number(/0 of (\d+) failed/.exec(out)?.[1])).toBeGreaterThanOrEqual(100);
    },
    180_000,
  );
});

// ---- test/gpu's model checks on an addon built with the stand-ins (one fake device) ----------------

const fakeAddon = path.join(root, 'build-model-fake-addon', 'Release', 'dilbench.node');
const fakeAddonSkip = existsSync(fakeAddon)
  ? ''
  : `${fakeAddon} is not built (npx cmake-js compile -d native/cuda/model/fake/addon --out build-model-fake-addon)`;
if (fakeAddonSkip)
  console.log(`test/gpu model checks on the stand-in addon skipped: ${fakeAddonSkip}`);

describe.skipIf(!!fakeAddonSkip)('test/gpu model checks on the stand-in addon', () => {
  it('run-model-checks.mjs (tiny configs) passes end to end: binding, placement, harness and host code', () => {
    const script = path.join(root, 'test', 'gpu', 'run-model-checks.mjs');
    const r = spawnSync(process.execPath, [script, fakeAddon], {
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, MODEL_CHECKS_TINY: '1' },
    });
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toMatch(/fake CUDA device/);
    expect(
      r.status,
      out
        .split('\n')
        .filter((l) => /FAIL|Error/.test(l))
        .slice(0, 20)
        .join('\n'),
    ).toBe(0);
    expect((out.match(/^PASS /gm) ?? []).length).toBeGreaterThanOrEqual(15 + 2);
    expect(out).toMatch(/model gpu checks: 0 failure\(s\)/);
  }, 300_000);
});

// ---- fp16 / bf16 rounding, emulated on the CPU ---------------------------------------------------

describe('the CUDA model numerics, emulated in float64 on the CPU', () => {
  // The tiny configs of test/gpu (the gpt2-shaped one is too slow for a float64 JS forward).
  const cases = (
    mc.modelCases() as {
      label: string;
      config: ModelConfig;
      weights: string;
      promptLength: number;
    }[]
  ).filter((c) => c.weights === 'explicit');
  for (const c of cases) {
    it(`${c.label}: the reference is the CPU model's computation; predicted fp16 / bf16 / fp32 errors stay well inside test/gpu's tolerances`, async () => {
      const p = mc.promptFor(c.config, c.promptLength) as Int32Array;
      const line: string[] = [];
      for (const dtype of ['fp32', 'fp16', 'bf16'] as const) {
        // the weights test/gpu uses for this dtype (std 0.25 for fp32, REDUCED_SCALE otherwise)
        const T = mc.weightsFor(c, dtype).tensors;
        const exact = mc.referenceForward(c.config, T, p) as Float64Array;
        if (dtype !== 'bf16') {
          // the unrounded reference is the computation the CPU model (and the CUDA model) runs
          const m = await native.createModel(c.config, { tensors: T });
          const cpu = await m.forward(p, { implementation: 'flash', threads: 2 });
          m.dispose();
          expect(mc.compareOutputs(cpu, exact).relL2).toBeLessThanOrEqual(1e-5);
        }
        const emulated = mc.referenceForward(c.config, T, p, mc.ROUND[dtype]) as Float64Array;
        const { relL2 } = mc.compareOutputs(Float32Array.from(emulated), exact);
        line.push(`${dtype} ${relL2.toExponential(2)}`);
        // rounding is visible (the emulation does round) and well below the tolerance
        expect(relL2).toBeGreaterThan({ fp32: 1e-9, fp16: 1e-5, bf16: 1e-4 }[dtype]);
        expect(relL2).toBeLessThanOrEqual(mc.TOL[dtype] / (dtype === 'fp32' ? 10 : 2));
      }
      console.log(`predicted relL2 of the CUDA model's rounding, ${c.label}: ${line.join(', ')}`);
    });
  }

  it('the rounding helpers round to nearest even at 11 / 8 significant bits', () => {
    const { fp16, bf16 } = mc.ROUND as Record<'fp16' | 'bf16', (x: number) => number>;
    expect(fp16(1 + 2 ** -11)).toBe(1); // tie, to even
    expect(fp16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie, to even (up)
    expect(fp16(65504)).toBe(65504);
    expect(fp16(70000)).toBe(Infinity);
    expect(fp16(2 ** -24)).toBe(2 ** -24); // smallest subnormal
    expect(fp16(0.1)).toBe(0.0999755859375);
    expect(bf16(1 + 2 ** -8)).toBe(1);
    expect(bf16(0.1)).toBe(0.10009765625);
    expect(bf16(-3.14159)).toBe(-3.140625);
  });
});
