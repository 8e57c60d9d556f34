// How `dilbench bench` runs on the suites' engine: a section states each point's sides (a sampler
// each, with the problem one timed sample solves), the scheduler samples them (interleaved in
// seeded random order when a point has several), every side becomes a ResultRow of the bench's
// result file, and every ratio a table shows is the stats' ratio of medians with its interval.
import { measure, measureInterleaved } from '../measure/scheduler.js';
import { sessionSampler } from '../measure/session-sampler.js';
import type { Measurement, Sampler, SamplingOptions } from '../measure/types.js';
import type { NativeProblem, NativeSession } from '../native/binding.js';
import { createRng } from '../stats/random.js';
import { compareSamples } from '../stats/sample-ratio.js';
import { toOutcome } from '../suite/sampling.js';
import type {
  BenchRatioRow,
  BenchSectionName,
  DTypeName,
  ResultRow,
  SimdLevelName,
} from '../results/types.js';

/** The problem one timed sample of a side solves, as its ResultRow records it. */
export interface SideProblem {
  implementation: string;
  dtype: DTypeName;
  batch: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  seqLen: number;
  causal: boolean;
  /** FLOPs of one timed sample (0: not counted; the row's gflops is then null) */
  flops: number;
  bytes: number;
  /** read after sampling, replacing `bytes` when not null (a kv-cache decode's telemetry) */
  bytesAfterSampling?: () => number | null;
  /** dilbench's SIMD level for native sides; null for other frameworks */
  simdLevel: SimdLevelName | null;
  params?: Record<string, unknown>;
}

export interface BenchSide {
  /** the side's name within its point: the key of the measurements `sample` returns */
  name: string;
  sampler: Sampler;
  problem: SideProblem;
}

export interface BenchPoint {
  section: BenchSectionName;
  seqLen: number;
  sides: BenchSide[];
  sampling: SamplingOptions;
}

/** What every section takes; each adds its own lengths and shapes. */
export interface SectionOptions {
  threads: number;
  /** samples per side */
  runs?: number;
  /** discarded iterations per side, the cold start included (sections with a fixed warm-up omit it) */
  warmup?: number;
  log?: (line: string) => void;
  /** where the rows and ratios go (a whole run shares one); default: a record of the section's own */
  record?: BenchRecord;
}

/** A native session's side: its own timed iterations (the suites' sessionSampler) unless `sampler`. */
export function nativeSide(
  name: string,
  problem: NativeProblem,
  session: Pick<NativeSession, 'plan' | 'sample' | 'sampleClocks'>,
  simdLevel: SimdLevelName,
  sampler: Sampler = sessionSampler(session),
): BenchSide {
  return {
    name,
    sampler,
    problem: {
      implementation: problem.implementation,
      dtype: problem.dtype,
      batch: problem.batch,
      heads: problem.heads,
      kvHeads: problem.kvHeads,
      headDim: problem.headDim,
      seqLen: problem.seqLen,
      causal: problem.causal,
      flops: session.plan.flops,
      bytes: session.plan.bytesMoved,
      simdLevel,
      params: {
        ...(problem.segmentLengths ? { segmentLengths: problem.segmentLengths } : {}),
        ...(problem.dilationRates ? { dilationRates: problem.dilationRates } : {}),
        ...(problem.promptLen !== undefined ? { promptLen: problem.promptLen } : {}),
        ...(problem.newTokens !== undefined ? { newTokens: problem.newTokens } : {}),
        ...(problem.prefill !== undefined ? { prefill: problem.prefill } : {}),
      },
    },
  };
}

/** The rows and ratios of one bench run, filled by its sections as they sample. */
export class BenchRecord {
  readonly rows: ResultRow[] = [];
  readonly ratios: BenchRatioRow[] = [];

  /** signal: Ctrl-C of the whole run; a point being sampled then throws MeasurementCancelledError */
  constructor(
    readonly threads: number,
    readonly signal?: AbortSignal,
  ) {}

  /** true once the run was stopped (Ctrl-C / SIGTERM): sections then sample no further point */
  get stopped(): boolean {
    return this.signal?.aborted === true;
  }

  /**
   * A section's points in order until the run is stopped: the point the stop cuts short ends the
   * loop quietly (the points sampled before it keep their rows and table lines); any other error
   * propagates.
   */
  async eachPoint<T>(items: Iterable<T>, body: (item: T) => Promise<void>): Promise<void> {
    for (const item of items) {
      if (this.stopped) return;
      try {
        await body(item);
      } catch (e) {
        if (this.stopped) return;
        throw e;
      }
    }
  }

  /** Samples the point's sides (one: measure; several: interleaved) and records a row per side. */
  async sample(point: BenchPoint): Promise<Map<string, Measurement>> {
    const [only] = point.sides;
    const ms =
      point.sides.length === 1 && only
        ? new Map([[only.name, await measure(only.sampler, point.sampling, this.signal)]])
        : await measureInterleaved(
            new Map(point.sides.map((s) => [s.name, s.sampler])),
            point.sampling,
            this.signal,
          );
    for (const side of point.sides) {
      const m = ms.get(side.name);
      if (!m) throw new Error(`bench ${point.section}: the measurement lost side ${side.name}`);
      this.rows.push(this.rowOf(point, side, m));
    }
    return ms;
  }

  /**
   * The ratio median(other) / median(base) of two sides of a point, with its bootstrap 95%
   * interval and Mann-Whitney p (stats/sample-ratio.ts, seeded as every comparison of samples).
   */
  ratio(
    section: BenchSectionName,
    seqLen: number,
    base: { name: string; m: Pick<Measurement, 'samplesMs'> },
    other: { name: string; m: Pick<Measurement, 'samplesMs'> },
  ): BenchRatioRow {
    const r = compareSamples(base.m.samplesMs, other.m.samplesMs, createRng(0x5eed));
    const row: BenchRatioRow = {
      section,
      seqLen,
      base: base.name,
      other: other.name,
      ratio: r.ratio,
      ratioCi95: r.ratioCi95,
      p: r.pValue,
      method: r.test,
    };
    this.ratios.push(row);
    return row;
  }

  private rowOf(point: BenchPoint, side: BenchSide, m: Measurement): ResultRow {
    const p = side.problem;
    const bytes = p.bytesAfterSampling?.() ?? p.bytes;
    const seconds = m.stats.medianMs / 1000;
    return {
      implementation: p.implementation,
      device: 'cpu',
      dtype: p.dtype,
      batch: p.batch,
      heads: p.heads,
      kvHeads: p.kvHeads,
      headDim: p.headDim,
      seqLen: p.seqLen,
      effectiveSeqLen: p.seqLen,
      causal: p.causal,
      status: 'ok',
      reason: null,
      // the samples, statistics and stop reason as a suite's row carries them
      ...toOutcome(m),
      peakMemoryBytes: null,
      estimatedMemoryBytes: 0,
      tokensPerSecond: null,
      gflops: p.flops > 0 ? p.flops / seconds / 1e9 : null,
      gbps: bytes > 0 ? bytes / seconds / 1e9 : null,
      flopsPerIteration: p.flops,
      bytesPerIteration: bytes,
      threads: this.threads,
      simdLevel: p.simdLevel,
      params: { benchSection: point.section, side: side.name, ...p.params },
    };
  }
}

/** The bench's one attention shape: batch 1, 8 heads of headDim 64, not causal, fp32, seed 42.
 *  Sections override what they vary (implementation, length, dtype, heads, decode lengths). */
export function benchProblem(
  implementation: string,
  seqLen: number,
  overrides: Partial<NativeProblem> = {},
): NativeProblem {
  return {
    implementation,
    device: 'cpu',
    dtype: 'fp32',
    batch: 1,
    heads: 8,
    kvHeads: 8,
    seqLen,
    headDim: 64,
    causal: false,
    seed: 42,
    ...overrides,
  };
}
