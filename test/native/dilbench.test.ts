// The Dilbench object: one per process from getDilbench() (the entry points' way to get it),
// holding the loaded addon and what was chosen for it, and the bindings given in its stead; the
// library functions take the object they are handed.
import { describe, expect, it } from 'vitest';
import { Dilbench, getDilbench } from '../../src/native/dilbench.js';
import { packageRoot } from '../../src/native/load-addon.js';
import { diagnoseBackend } from '../../src/native/select-backend.js';
import { computeAttention } from '../../src/api/compute.js';
import { collectDoctor } from '../../src/cli/commands/doctor.js';
import * as api from '../../src/index.js';
import { createFakeBinding, denseAttention } from '../helpers/fake-binding.js';
import { createFakeModelBinding } from '../helpers/fake-model.js';

describe('Dilbench', () => {
  it('holds the loaded addon, the binary it came from and why', () => {
    const d = new Dilbench();
    const addon = d.addon;
    expect(d.addon).toBe(addon); // loaded once
    expect(d.binding).toBe(addon);
    expect(d.loadError).toBeNull();
    expect(d.binary.path).toMatch(/\.node$/);
    expect(['cpu', 'cuda']).toContain(d.binary.backend);
    expect(d.binary.reason.length).toBeGreaterThan(0);
    expect(d.binaryOf(addon)).toEqual(d.binary);
    expect(d.simdLevel).toBe(addon.info().simdLevel);
    expect(d.cuda.available).toBe(addon.info().cuda.compiled && addon.info().cuda.deviceCount > 0);
  });

  it('runs on a binding given in its stead, without loading the addon for it', () => {
    const fake = createFakeBinding();
    const d = new Dilbench({ binding: fake });
    expect(d.binding).toBe(fake);
    expect(d.binaryOf(fake)).toBeUndefined();
    expect(d.simdLevel).toBe(fake.info().simdLevel);
    expect(d.cuda).toEqual({ available: false, reason: expect.stringMatching(/^no CUDA device/) });
    expect(d.binding).toBe(fake); // the fake, whatever else is asked
    expect(new Dilbench().binding).toBe(d.addon);
  });

  it('gives the model binding given in its stead, else the addon when it has the model core', () => {
    const models = createFakeModelBinding();
    expect(new Dilbench({ models }).models).toBe(models);
    const d = new Dilbench();
    const addon = d.addon as unknown as { createModel?: unknown };
    if (typeof addon.createModel === 'function') expect(d.models).toBe(d.addon);
    else expect(() => d.models).toThrow(/no transformer model core/);
  });

  it('diagnoses the backend once: the addon loads from that diagnosis, and doctor reuses it', () => {
    let diagnosed = 0;
    const d = new Dilbench({
      diagnose: () => {
        diagnosed++;
        const real = diagnoseBackend(packageRoot());
        // marked, so a second diagnosis made elsewhere would show
        return {
          ...real,
          selection: { ...real.selection, reason: `${real.selection.reason} [x]` },
        };
      },
    });
    const report = collectDoctor(d);
    expect(report.loaded.ok).toBe(true);
    expect(diagnosed).toBe(1); // doctor's findings and the loader's choice: one probe
    expect(report.selection.reason).toMatch(/ \[x\]$/);
    if (!process.env.DILBENCH_ADDON_PATH) expect(d.binary.reason).toMatch(/ \[x\]$/);
    expect(diagnosed).toBe(1);
  });

  it('getDilbench() is the one object of the process; API functions use the object handed to them', async () => {
    expect(getDilbench()).toBe(getDilbench());
    expect(api.getDilbench).toBe(getDilbench);
    const fake = createFakeBinding();
    const dilbench = new Dilbench({ binding: fake });
    const problem = {
      implementation: 'naive',
      device: 'cpu' as const,
      dtype: 'fp32' as const,
      batch: 1,
      heads: 2,
      kvHeads: 2,
      seqLen: 5,
      headDim: 32,
      causal: false,
      seed: 0,
    };
    const n = problem.batch * problem.heads * problem.seqLen * problem.headDim;
    const q = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const k = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const v = Float32Array.from({ length: n }, (_, i) => (i % 7) / 7);
    const out = await computeAttention({ ...problem, q, k, v, dilbench });
    const ref = denseAttention(problem, q, k, v);
    for (let i = 0; i < n; i++) expect(out[i]).toBeCloseTo(ref[i]!, 5);
    expect(api.listImplementations(undefined, { dilbench }).map((i) => i.name)).toEqual(
      fake.listImplementations().map((i) => i.name),
    );
  });
});
