// Real ring-dilated rings over MPI ranks (issue 19): the output gathered on rank 0 against the
// float64 `dilated` reference (small) and the single-process `dilated` kernel (larger), computed
// here through the addon from the same seeded inputs; P = 2, 3, 4, causal and not, grouped-query,
// seqLen not divisible by 2P, segments spanning ranks and segments inside one. The bytes each rank
// forwards per step equal what the simulated ring-dilated counts (the same sparsified rows travel).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  distributedAvailability,
  launcherArgs,
  processesWithMarker,
} from '../../src/distributed/launcher.js';
import {
  DistributedRunError,
  launchRing,
  parseDistributedOptions,
  runDistributedRing,
} from '../../src/distributed/run.js';
import { packageRoot } from '../../src/native/loader.js';
import { getDilbench, loadBinding } from '../../src/native/dilbench.js';
import type { NativeBinding, NativeProblem } from '../../src/native/binding.js';
import { errors, inputs, SINGLE_THREAD_SESSION as session } from './helpers.js';

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
if (!binding) console.log(`distributed ring-dilated tests skipped: ${skipReason}`);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dilbench-ring-dilated-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  ranks: number;
  seqLen: number;
  causal: boolean;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** absent: the defaults by length */
  segmentLengths?: number[];
  dilationRates?: number[];
}

function problemOf(c: Case, implementation = 'dilated'): NativeProblem {
  return {
    implementation,
    device: 'cpu',
    dtype: 'fp32',
    batch: 1,
    heads: c.heads,
    kvHeads: c.kvHeads,
    seqLen: c.seqLen,
    headDim: c.headDim,
    causal: c.causal,
    seed: 42,
    ...(c.segmentLengths
      ? { segmentLengths: c.segmentLengths, dilationRates: c.dilationRates }
      : {}),
  };
}

async function ring(c: Case, check: string) {
  const o = parseDistributedOptions({
    implementations: 'ring-dilated',
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
    ...(c.segmentLengths
      ? { segmentLengths: c.segmentLengths.join(','), dilationRates: c.dilationRates!.join(',') }
      : {}),
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

/** Bytes each rank forwards per step in the simulated ring-dilated ([step][rank]). */
async function simulatedBytes(b: NativeBinding, c: Case): Promise<number[][]> {
  const s = await b.createSession({ ...problemOf(c, 'ring-dilated'), ringSize: c.ranks }, session);
  try {
    await s.sample(1, false);
    return s.telemetry!()!.stepRankBytesSent!.map((row) => row.map(Number));
  } finally {
    s.dispose();
  }
}

describe.skipIf(!binding)('ring-dilated over MPI ranks: gathered output', () => {
  const small: Case[] = [];
  // 203 rows: not divisible by 2P for P = 2, 3, 4; segments 32/64/128 span the chunk borders, with
  // head offsets 0..r-1 across the 4 query heads (2 per kv head)
  for (const ranks of [2, 3, 4]) {
    for (const causal of [false, true]) {
      small.push({
        ranks,
        seqLen: 203,
        causal,
        heads: 4,
        kvHeads: 2,
        headDim: 32,
        segmentLengths: [32, 64, 128],
        dilationRates: [1, 2, 4],
      });
    }
  }
  // a segment longer than the sequence (shrinks to seqLen) with a rate that skips rows of every chunk
  small.push({
    ranks: 3,
    seqLen: 101,
    causal: true,
    heads: 3,
    kvHeads: 1,
    headDim: 16,
    segmentLengths: [512, 7],
    dilationRates: [3, 1],
  });

  it.each(small)(
    'P=$ranks seqLen=$seqLen causal=$causal heads=$heads/$kvHeads w=$segmentLengths r=$dilationRates equals the float64 reference',
    async (c) => {
      const { raw, out } = await ring(c, 'reference');
      const { q, k, v } = await inputs(binding!, problemOf(c));
      const ref = await binding!.reference(problemOf(c), q, k, v);
      const e = errors(out, ref);
      expect(e.maxAbs).toBeLessThanOrEqual(1e-4);
      expect(e.relL2).toBeLessThanOrEqual(1e-5);
      expect(raw.implementation).toBe('ring-dilated');
      expect(raw.layouts.map((l) => l.layout)).toEqual(['plain']);
      expect(raw.layouts[0]!.check).toMatchObject({ against: 'float64-reference', finite: true });
      expect(raw.layouts[0]!.check.maxAbsError).toBeLessThanOrEqual(1e-4);
      // the same sparsified rows travel as in the simulated ring-dilated, step by step and rank by rank
      const sim = await simulatedBytes(binding!, c);
      const it0 = raw.layouts[0]!.iterations[0]!;
      for (let s = 0; s < c.ranks; s++) {
        for (let r = 0; r < c.ranks; r++)
          expect(it0.ranks[r]!.bytesSent[s], `step ${s} rank ${r}`).toBe(sim[s]![r]);
      }
      // something travels: segments span the chunk borders
      expect(it0.ranks.reduce((a, r) => a + r.bytesSent[0]!, 0)).toBeGreaterThan(0);
    },
  );

  it('segments that lie inside one rank send nothing and still give the reference output', async () => {
    // chunks [0,100), [100,200); segments of 25 and 50 rows never cross 100
    const c: Case = {
      ranks: 2,
      seqLen: 200,
      causal: true,
      heads: 2,
      kvHeads: 2,
      headDim: 16,
      segmentLengths: [25, 50],
      dilationRates: [1, 2],
    };
    const { raw, out } = await ring(c, 'reference');
    const { q, k, v } = await inputs(binding!, problemOf(c));
    const e = errors(out, await binding!.reference(problemOf(c), q, k, v));
    expect(e.maxAbs).toBeLessThanOrEqual(1e-4);
    for (const r of raw.layouts[0]!.iterations[0]!.ranks) expect(r.bytesSent).toEqual([0, 0]);
    expect(raw.layouts[0]!.pingPong.oneWayNs).toEqual([]);
  });

  it.each([
    { ranks: 2, seqLen: 3001, causal: true, heads: 2, kvHeads: 1, headDim: 64 },
    { ranks: 3, seqLen: 3001, causal: false, heads: 2, kvHeads: 2, headDim: 64 },
    { ranks: 4, seqLen: 2999, causal: true, heads: 4, kvHeads: 2, headDim: 32 },
  ])(
    'P=$ranks seqLen=$seqLen causal=$causal (default pairs) equals the single-process dilated kernel',
    async (c) => {
      const { raw, out } = await ring(c, 'dilated');
      const { q, k, v } = await inputs(binding!, problemOf(c));
      const dilated = await binding!.compute(problemOf(c), session, q, k, v);
      const e = errors(out, dilated);
      expect(e.maxAbs).toBeLessThanOrEqual(2e-4);
      expect(e.relL2).toBeLessThanOrEqual(2e-5);
      expect(raw.layouts[0]!.check.against).toBe('dilated');
      // defaults by length (seqLen <= 8192): w 1024, 2048, 4096 (shrunk to seqLen), r 1, 2, 4
      expect(raw.segmentLengths).toEqual([1024, 2048, c.seqLen]);
      expect(raw.dilationRates).toEqual([1, 2, 4]);
    },
  );
});

describe.skipIf(!binding)('ring-dilated over MPI ranks: a failing rank', () => {
  it('a rank that dies mid-ring ends the run with a clear error and no rank left running', async () => {
    const marker = `dilbench-ring-dilated-test-${randomUUID()}`;
    const o = {
      ...parseDistributedOptions({
        implementations: 'ring-dilated',
        ranks: 3,
        totalTokens: [600],
        heads: 2,
        headDim: 32,
        segmentLengths: '128,512',
        dilationRates: '1,2',
        runs: 1,
        warmup: 0,
        check: 'none',
        timeout: 60,
      }),
      fault: { rank: 1, kind: 'die' as const, step: 1 },
    };
    const err = await launchRing(o, 600, {
      launcher: avail.launcher!,
      rankExecutable: avail.rankExecutable!,
      marker,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistributedRunError);
    expect(String((err as Error).message)).toMatch(
      /distributed ring \(3 ranks, 600 tokens\) (failed|did not finish)/,
    );
    expect(processesWithMarker(marker)).toEqual([]);
  });
});

describe.skipIf(!binding)('ring-dilated over MPI ranks: result rows', () => {
  it('measured rows say ring-dilated, carry the pairs and the kernel flops, and sit beside the simulated projection', async () => {
    const o = parseDistributedOptions({
      implementations: 'ring-dilated',
      ranks: 3,
      totalTokens: ['500'],
      heads: 2,
      kvHeads: 1,
      headDim: 32,
      causal: true,
      segmentLengths: '64,256',
      dilationRates: '1,4',
      runs: 2,
      warmup: 0,
      timeout: 120,
      outputDir: path.join(tmp, 'rows'),
    });
    expect(o.layouts).toEqual(['plain']);
    const r = await runDistributedRing(o, { dilbench: getDilbench() });
    expect(r.error).toBeUndefined();
    const file = JSON.parse(readFileSync(r.written.json, 'utf8')) as typeof r.file;
    expect(file.config).toMatchObject({
      implementation: 'ring-dilated',
      segmentLengths: [64, 256],
      dilationRates: [1, 4],
    });
    expect(file.results).toHaveLength(1);
    const row = file.results[0]!;
    expect(row).toMatchObject({
      implementation: 'ring-dilated',
      status: 'ok',
      validation: { against: 'float64-reference', passed: true },
    });
    expect(row.params).toMatchObject({
      measured: true,
      distributed: true,
      layout: 'plain',
      ringSize: 3,
      segmentLengths: [64, 256],
      dilationRates: [1, 4],
    });
    const s = await binding!.createSession(
      problemOf({
        ranks: 3,
        seqLen: 500,
        causal: true,
        heads: 2,
        kvHeads: 1,
        headDim: 32,
        segmentLengths: [64, 256],
        dilationRates: [1, 4],
      }),
      session,
    );
    try {
      expect(row.flopsPerIteration).toBe(s.plan.flops);
    } finally {
      s.dispose();
    }
    const p = row.projected as {
      kind: string;
      projectedWallMs: number;
      measuredWallMs: number;
      projectionError: number;
      basis: string;
    };
    expect(p.kind).toBe('projected');
    expect(p.basis).toMatch(/simulated ring-dilated/);
    expect(p.projectedWallMs).toBeGreaterThan(0);
    expect(p.projectionError).toBeCloseTo(
      (p.measuredWallMs - p.projectedWallMs) / p.projectedWallMs,
      10,
    );
  });

  it('--from-rank-output of a hand-run ring-dilated launch keeps the implementation and pairs, and projects with ring-dilated', async () => {
    const rawFile = path.join(tmp, 'rank0-dilated.json');
    const args = [
      ...launcherArgs(avail.launcher!, 2, [], process.getuid?.() === 0),
      avail.rankExecutable!,
      '--implementation',
      'ring-dilated',
      '--seq-len',
      '300',
      '--heads',
      '2',
      '--head-dim',
      '16',
      '--segment-lengths',
      '64,200',
      '--dilation-rates',
      '1,2',
      '--iterations',
      '2',
      '--output',
      rawFile,
    ];
    const mpi = spawnSync(avail.launcher!.path, args, { encoding: 'utf8', timeout: 120_000 });
    expect(mpi.status, mpi.stderr).toBe(0);
    const o = parseDistributedOptions({
      fromRankOutput: rawFile,
      outputDir: path.join(tmp, 'imported'),
    });
    const r = await runDistributedRing(o, { dilbench: getDilbench() });
    expect(r.file.config).toMatchObject({
      implementation: 'ring-dilated',
      segmentLengths: [64, 200],
      dilationRates: [1, 2],
      fromRankOutput: rawFile,
    });
    expect(r.file.results).toHaveLength(1);
    expect(r.file.results[0]).toMatchObject({
      implementation: 'ring-dilated',
      seqLen: 300,
      status: 'ok',
      validation: { against: 'float64-reference', passed: true },
    });
    expect((r.file.results[0]!.projected as { basis: string }).basis).toMatch(
      /simulated ring-dilated/,
    );
  });
});
