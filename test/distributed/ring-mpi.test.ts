// Real rings over MPI ranks (issue 19): the output gathered on rank 0 against the float64
// reference (small) and flash (larger), computed here through the addon from the same seeded
// inputs; P = 2, 3, 4 and 6 (oversubscribed on this machine), causal (both layouts) and not,
// grouped-query, seqLen not divisible by 2P. A rank that dies or hangs ends the run with a clear
// error within the timeout and leaves no process behind.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { distributedAvailability, processesWithMarker } from '../../src/distributed/launcher.js';
import {
  launchRing,
  parseDistributedOptions,
  runDistributedRing,
  DistributedRunError,
} from '../../src/distributed/run.js';
import { packageRoot } from '../../src/native/loader.js';
import { getDilbench, loadBinding } from '../../src/native/dilbench.js';
import type { NativeBinding, NativeProblem } from '../../src/native/binding.js';
import { errors, inputs } from './helpers.js';

const root = packageRoot();
const avail = distributedAvailability(root);
let binding: NativeBinding | null = null;
let skipReason = avail.reason;
if (avail.available) {
  try {
    binding = loadBinding();
  } catch (e) {
    skipReason = `the addon does not load: ${e instanceof Error ? e.message : String(e)}`;
  }
}
if (!binding) console.log(`distributed ring tests skipped: ${skipReason}`);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dilbench-ring-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  ranks: number;
  seqLen: number;
  causal: boolean;
  heads: number;
  kvHeads: number;
  headDim: number;
  layouts?: string;
}

/** Runs the ring, returns rank 0's JSON and the gathered output of the first layout. */
async function ring(c: Case, check: string) {
  const o = parseDistributedOptions({
    ranks: c.ranks,
    totalTokens: [c.seqLen],
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    causal: c.causal,
    runs: 1,
    warmup: 0,
    check,
    timeout: 120,
    ...(c.layouts ? { layouts: c.layouts } : {}),
  });
  const dump = path.join(tmp, `${randomUUID()}.f32`);
  const { raw } = await launchRing(o, c.seqLen, {
    launcher: avail.launcher!,
    rankExecutable: avail.rankExecutable!,
    extraRankArgs: ['--dump-output', dump],
  });
  const buf = readFileSync(dump);
  rmSync(dump);
  return { raw, out: new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4) };
}

function problemOf(c: Case): NativeProblem {
  return {
    implementation: 'flash',
    device: 'cpu',
    dtype: 'fp32',
    batch: 1,
    heads: c.heads,
    kvHeads: c.kvHeads,
    seqLen: c.seqLen,
    headDim: c.headDim,
    causal: c.causal,
    seed: 42,
  };
}

describe.skipIf(!binding)('ring over MPI ranks: gathered output', () => {
  const small: Case[] = [];
  for (const ranks of [2, 3, 4]) {
    for (const causal of [false, true])
      small.push({ ranks, seqLen: 203, causal, heads: 4, kvHeads: 2, headDim: 32 });
  }
  small.push({
    ranks: 4,
    seqLen: 203,
    causal: true,
    heads: 4,
    kvHeads: 2,
    headDim: 32,
    layouts: 'plain',
  });
  small.push({ ranks: 6, seqLen: 101, causal: true, heads: 2, kvHeads: 1, headDim: 16 });
  // P <= seqLen < 2P: zigzag chunks of zero rows
  small.push({ ranks: 3, seqLen: 5, causal: true, heads: 1, kvHeads: 1, headDim: 8 });

  it.each(small)(
    'P=$ranks seqLen=$seqLen causal=$causal heads=$heads/$kvHeads layouts=$layouts equals the float64 reference',
    async (c) => {
      const { raw, out } = await ring(c, 'reference');
      const { q, k, v } = await inputs(binding!, problemOf(c));
      const ref = await binding!.reference(problemOf(c), q, k, v);
      const e = errors(out, ref);
      expect(e.maxAbs).toBeLessThanOrEqual(1e-4);
      expect(e.relL2).toBeLessThanOrEqual(1e-5);
      // every layout rank 0 ran checked itself against the same reference
      expect(raw.layouts.length).toBe(c.layouts ? 1 : c.causal ? 2 : 1);
      for (const l of raw.layouts) {
        expect(l.check.against).toBe('float64-reference');
        expect(l.check.maxAbsError).toBeLessThanOrEqual(1e-4);
      }
      // bytes: every rank forwards the chunk it holds after each step but the last
      const it0 = raw.layouts[0]!.iterations[0]!;
      for (let r = 0; r < c.ranks; r++) {
        expect(it0.ranks[r]!.bytesSent[c.ranks - 1]).toBe(0);
        const src = r; // at step 0 a rank forwards its own chunk
        const rows = raw.layouts[0]!.chunks[src]!.reduce((a, [b, e2]) => a + e2 - b, 0);
        expect(it0.ranks[r]!.bytesSent[0]).toBe(2 * c.kvHeads * rows * c.headDim * 4);
      }
    },
  );

  it.each([
    { ranks: 2, seqLen: 1999, causal: true, heads: 2, kvHeads: 1, headDim: 64 },
    { ranks: 4, seqLen: 1999, causal: false, heads: 2, kvHeads: 2, headDim: 64 },
  ])('P=$ranks seqLen=$seqLen causal=$causal equals flash', async (c) => {
    const { raw, out } = await ring(c, 'flash');
    const { q, k, v } = await inputs(binding!, problemOf(c));
    const flash = await binding!.compute(
      problemOf(c),
      { threads: 1, useMemoryPool: true, usePatternCache: false, memoryLimitBytes: 0 },
      q,
      k,
      v,
    );
    const e = errors(out, flash);
    expect(e.maxAbs).toBeLessThanOrEqual(2e-4);
    expect(e.relL2).toBeLessThanOrEqual(2e-5);
    for (const l of raw.layouts) expect(l.check.against).toBe('flash');
  });
});

describe.skipIf(!binding)('ring over MPI ranks: failures', () => {
  const base = {
    ranks: 3,
    totalTokens: [600],
    heads: 2,
    headDim: 32,
    runs: 1,
    warmup: 0,
    check: 'none',
  };

  it('a rank that dies ends the run with a clear error and no rank left running', async () => {
    const marker = `dilbench-ring-test-${randomUUID()}`;
    const o = {
      ...parseDistributedOptions({ ...base, timeout: 60 }),
      fault: { rank: 1, kind: 'die' as const, step: 1 },
    };
    const t0 = Date.now();
    const err = await launchRing(o, 600, {
      launcher: avail.launcher!,
      rankExecutable: avail.rankExecutable!,
      marker,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistributedRunError);
    expect(String((err as Error).message)).toMatch(
      /distributed ring \(3 ranks, 600 tokens\) (failed|did not finish)/,
    );
    expect(Date.now() - t0).toBeLessThan(60_000 + 10_000);
    expect(processesWithMarker(marker)).toEqual([]);
  });

  it('a launch that fails stops the run; the lengths measured before it are written with a failed row for it', async () => {
    const o = {
      ...parseDistributedOptions({
        ...base,
        totalTokens: [256, 600],
        timeout: 60,
        outputDir: path.join(tmp, 'partial'),
      }),
      fault: { rank: 2, kind: 'die' as const, step: 0, seqLen: 600 },
    };
    const r = await runDistributedRing(o, { dilbench: getDilbench() });
    expect(r.error).toBeInstanceOf(DistributedRunError);
    const onDisk = JSON.parse(readFileSync(r.written.json, 'utf8')) as {
      results: { seqLen: number; status: string; reason: string | null }[];
    };
    expect(onDisk.results.map((x) => [x.seqLen, x.status])).toEqual([
      [256, 'ok'],
      [600, 'failed'],
    ]);
    expect(onDisk.results[1]!.reason).toMatch(/distributed ring \(3 ranks, 600 tokens\)/);
  });

  it('a rank that hangs is stopped at the timeout with a clear error and no rank left running', async () => {
    const marker = `dilbench-ring-test-${randomUUID()}`;
    const o = {
      ...parseDistributedOptions({ ...base, timeout: 4 }),
      fault: { rank: 2, kind: 'hang' as const, step: 1 },
    };
    const t0 = Date.now();
    const err = await launchRing(o, 600, {
      launcher: avail.launcher!,
      rankExecutable: avail.rankExecutable!,
      marker,
    }).catch((e: unknown) => e);
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(DistributedRunError);
    expect(String((err as Error).message)).toMatch(/did not finish within --timeout 4 s/);
    expect(elapsed).toBeGreaterThanOrEqual(4000);
    // timeout + SIGTERM grace (3 s) + slack for a loaded machine
    expect(elapsed).toBeLessThan(4000 + 3000 + 8000);
    expect(processesWithMarker(marker)).toEqual([]);
  });
});
