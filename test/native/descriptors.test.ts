// One descriptor per implementation (issue 15, step 1): declared beside each native kernel, read by
// the TypeScript layer through listImplementations(); and the parameter bounds the config layer,
// computeAttention and the native checks share (the window >= 0 / >= 1 and blockSize-cap
// disagreements are gone).
import { describe, expect, it } from 'vitest';
import { loadBinding } from '../../src/native/dilbench.js';
import { parseImplParams } from '../../src/config/impl-params.js';
import { computeAttention } from '../../src/api/compute.js';
import {
  computesExactDense,
  implementationFunction,
  partnerOf,
  paramSpec,
} from '../../src/implementations/descriptors.js';
import { computesExactDense as reportRanksAsExactDense } from '../../src/results/ranking.js';
import { baseOptions, baseProblem, catchSync } from './helpers.js';
import { cli, distBuilt } from '../cli/helpers.js';

const binding = loadBinding();
const cpu = binding
  .listImplementations()
  .filter((i) => i.device === 'cpu' && i.origin === 'built-in');

describe('implementation descriptors', () => {
  it('every built-in declares a known function, its exactness, its parameters and a partner of the same function', () => {
    expect(cpu.map((i) => i.name).sort()).toEqual([
      'block-sparse',
      'dilated',
      'dilated-grouped',
      'flash',
      'kv-cache',
      'kv-cache-recompute',
      'naive',
      'ring',
      'ring-dilated',
    ]);
    for (const i of cpu) {
      expect(['dense', 'kv-cache', 'dilated', 'dilated-grouped', 'block-sparse'], i.name).toContain(
        i.function,
      );
      if (i.partner) {
        // the partner computes the same function and names this one back, or is itself validated by the reference
        expect(implementationFunction(i.partner, binding), i.name).toBe(i.function);
      }
      for (const p of i.params ?? [])
        expect(p.allowed.length, `${i.name}.${p.name}`).toBeGreaterThan(0);
    }
    expect(implementationFunction('ring-dilated', binding)).toBe('dilated');
    expect(partnerOf('kv-cache', binding)).toBe('kv-cache-recompute');
    expect(cpu.find((i) => i.name === 'block-sparse')?.params?.map((p) => p.name)).toEqual([
      'blockPattern',
      'blockSize',
      'window',
      'stride',
      'density',
    ]);
    expect(cpu.find((i) => i.name === 'kv-cache')?.telemetry).toContain('decodeBytes');
  });

  it('ranks only exact dense attention: kv-cache only under a causal mask; dilated, block-sparse and unknown names never', () => {
    for (const name of ['naive', 'flash', 'ring']) {
      expect(computesExactDense(name, false, binding)).toBe(true);
      expect(computesExactDense(name, true, binding)).toBe(true);
    }
    expect(computesExactDense('kv-cache', true, binding)).toBe(true);
    expect(computesExactDense('kv-cache', false, binding)).toBe(false);
    for (const name of [
      'dilated',
      'dilated-grouped',
      'ring-dilated',
      'block-sparse',
      'no-such-thing',
    ]) {
      expect(computesExactDense(name, true, binding), name).toBe(false);
    }
  });

  it('reports (which read result files, not the addon) rank the built-ins as their descriptors say', () => {
    for (const i of cpu)
      for (const causal of [true, false])
        expect(reportRanksAsExactDense(i.name, causal), `${i.name} causal=${causal}`).toBe(
          computesExactDense(i.name, causal, binding),
        );
  });
});

describe('parameter bounds agree everywhere', () => {
  const bs = { ...baseProblem, implementation: 'block-sparse', seqLen: 256 };
  const q = new Float32Array(1 * 2 * 256 * 32);
  const kv = new Float32Array(1 * 1 * 256 * 32);
  const compute = (extra: Record<string, unknown>) =>
    computeAttention({
      implementation: 'block-sparse',
      q,
      k: kv,
      v: kv,
      batch: 1,
      heads: 2,
      kvHeads: 1,
      seqLen: 256,
      headDim: 32,
      threads: 1,
      binding,
      ...extra,
    });

  it('window 0 is refused by the suites, by computeAttention and by the native core alike; 1 is accepted by all', async () => {
    expect(paramSpec('window').min).toBe(1);
    expect(() => parseImplParams({ window: '0' })).toThrow(/window/);
    await expect(compute({ window: 0 })).rejects.toMatchObject({ field: 'window' });
    const e = catchSync(() => binding.plan({ ...bs, window: 0 }, baseOptions));
    expect(e.code).toBe('ERR_DILBENCH_INVALID_CONFIG');
    expect(e.field).toBe('window');
    expect(parseImplParams({ window: '1' }).window).toBe(1);
    expect((await compute({ window: 1 })).length).toBe(q.length);
    expect(binding.plan({ ...bs, window: 1 }, baseOptions).flops).toBeGreaterThan(0);
  });

  it('blockSize is capped at the same 65536 by the suites, computeAttention and the native core', async () => {
    const max = paramSpec('blockSize').max!;
    expect(max).toBe(65536);
    expect(() => parseImplParams({ blockSize: String(max + 1) })).toThrow(/blockSize/);
    await expect(compute({ blockSize: max + 1 })).rejects.toMatchObject({ field: 'blockSize' });
    const e = catchSync(() => binding.plan({ ...bs, blockSize: max + 1 }, baseOptions));
    expect(e.field).toBe('blockSize');
    expect(e.message).toMatch(/1\.\.65536/);
    expect(parseImplParams({ blockSize: String(max) }).blockSize).toBe(max);
    expect(binding.plan({ ...bs, blockSize: max }, baseOptions).flops).toBeGreaterThan(0);
    expect((await compute({ blockSize: max })).length).toBe(q.length);
  });

  it("the error names the field and says what is allowed, in the native spec's words", () => {
    try {
      parseImplParams({ stride: '0' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/stride/);
      expect((e as Error).message).toContain(paramSpec('stride').allowed);
    }
  });
});

describe.skipIf(!distBuilt)('CLI help of the parameter flags', () => {
  it('shows the native spec of each parameter (help, bounds, default), not a copy', () => {
    const r = cli(['sequence-ranges', '--help']);
    expect(r.code, r.stderr).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    for (const name of ['window', 'blockSize', 'density', 'ringSize', 'newTokens']) {
      const s = paramSpec(name);
      expect(help, name).toContain(
        `${s.help} (${s.allowed}; default ${s.default})`.replace(/\s+/g, ' '),
      );
    }
  });
});
