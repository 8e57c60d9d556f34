// The `ring` suite: ring attention (and ring-dilated when asked) for each --ring-size P and each
// --total-tokens N. What fits in memory and --max-run-seconds runs and is measured (per-step,
// per-rank compute and bytes sent, projected onto the links). Larger totals, up to 1e9 tokens, are
// PROJECTED from the largest measured run of the same implementation and P: per-step compute
// scales with the chunk size c = N / P as c^2 (ring: each step is a c x c block) or c (ring-dilated),
// bytes per step as c. Projected rows have status 'skipped', no samples, and everything they state
// under row.projected (kind 'projected', with the measured basis); they are never called measured.
import { implParamsConfig } from '../config/impl-params.js';
import { MAX_SEQ_LEN, type SequenceRangesOptions } from '../config/schema.js';
import { unmeasuredRow } from '../results/rows.js';
import type { ResultRow } from '../results/types.js';
import { lengthList, parseFamilyOptions } from '../suite/family-options.js';
import {
  DEFAULT_LINKS,
  projectRing,
  ringProjectionFromSession,
  type RingProjection,
} from '../suite/ring-projection.js';
import { concreteDevice, problemFor } from '../suite/problem.js';
import type { SuiteDefinition, SuitePoint } from '../suite/types.js';

export const MAX_TOTAL_TOKENS = 1e9;
export const RING_DEFAULT_SIZES = [1, 2, 4, 8];
export const RING_DEFAULT_TOTALS = [4096, 16384, 65536, 1 << 20, 1 << 24, 1e9];

export interface RingSuiteOptions extends SequenceRangesOptions {
  ringSizes: number[];
  totalTokens: number[];
}

/** Per-step compute exponent in the chunk size. */
export function computeExponent(implementation: string): number {
  return implementation === 'ring-dilated' ? 1 : 2;
}

/** A projection of (implementation, P, N) from a measured ring projection at N0. */
export function scaleProjection(
  basis: RingProjection,
  fromTokens: number,
  toTokens: number,
  implementation: string,
  links = DEFAULT_LINKS,
): RingProjection {
  const f = toTokens / fromTokens;
  const cf = f ** computeExponent(implementation);
  const tel = {
    ringSize: basis.ringSize,
    stepRankNs: basis.perStepComputeMs.map((ms) => [ms * 1e6 * cf]),
    stepRankBytesSent: basis.bytesPerStepAll.map((b) => [b * f]),
  };
  const p = projectRing(tel, links)!;
  return {
    ...p,
    basis: `projected from the measured run at ${fromTokens} tokens (same implementation and P): per-step compute x (${toTokens}/${fromTokens})^${computeExponent(implementation)}, bytes per step x ${toTokens}/${fromTokens}`,
  };
}

export const ringSuite: SuiteDefinition<RingSuiteOptions> = {
  name: 'ring',
  description:
    'Ring attention over P simulated ranks: measured where it fits, projected (labelled) up to 1e9 tokens',
  parseOptions: (raw) => {
    const { ringSize, ...rest } = raw;
    const o = parseFamilyOptions<{ totalTokens?: number[]; ringSizes?: number[] }>(
      { ...rest, ...(ringSize !== undefined ? { ringSizes: ringSize } : {}) },
      {
        totalTokens: {
          schema: lengthList(MAX_TOTAL_TOKENS),
          allowed: 'one or more token counts 1..1e9 (K = 1024, M = 1048576, or 1e9)',
        },
        ringSizes: {
          schema: lengthList(1 << 20),
          allowed: 'one or more ring sizes P >= 1, e.g. 1,2,4,8',
        },
      },
      (own) => [
        ...new Set(
          ((own.totalTokens as number[] | undefined) ?? RING_DEFAULT_TOTALS).filter(
            (n) => n <= MAX_SEQ_LEN,
          ),
        ),
      ],
      { maxRunSeconds: 120 },
    );
    return {
      ...o,
      ringSizes: [...new Set(o.ringSizes ?? RING_DEFAULT_SIZES)],
      totalTokens: [...new Set(o.totalTokens ?? RING_DEFAULT_TOTALS)].sort((a, b) => a - b),
    };
  },
  points(o, ctx): SuitePoint[] {
    const points: SuitePoint[] = [];
    const impls = o.implementations
      ? ctx.implementations
      : ctx.implementations.filter((i) => i === 'ring');
    for (const P of o.ringSizes) {
      for (const seqLen of o.lengths) {
        if (P > seqLen) continue;
        for (const implementation of impls) {
          const problem = problemFor(o, ctx.binding, implementation, seqLen, { ringSize: P });
          points.push({ problem, params: { ringSize: P } });
        }
      }
    }
    return points;
  },
  config(o) {
    return {
      ringSizes: o.ringSizes,
      totalTokens: o.totalTokens,
      measuredCandidates: o.lengths,
      batchSize: o.batchSize,
      heads: o.heads,
      kvHeads: o.kvHeads,
      headDim: o.headDim,
      causal: o.causal,
      links: o.links ?? DEFAULT_LINKS,
      ...implParamsConfig(o),
    };
  },
  afterMeasure: (m) => ringProjectionFromSession(m),
  finalize(rows, o, ctx) {
    const out: ResultRow[] = [];
    const impls = [...new Set(rows.map((r) => r.implementation))];
    if (!impls.length) impls.push(...(o.implementations ? ctx.implementations : ['ring']));
    for (const impl of impls) {
      for (const P of o.ringSizes) {
        const mine = rows.filter((r) => r.implementation === impl && r.params?.ringSize === P);
        const measured = mine.filter(
          (r) =>
            r.status === 'ok' &&
            (r.projected as { kind?: string } | undefined)?.kind === 'projected',
        );
        const basis = measured.sort((a, b) => b.seqLen - a.seqLen)[0];
        for (const N of o.totalTokens) {
          if (P > N) continue;
          const row = mine.find((r) => r.seqLen === N);
          if (row && row.status === 'ok') {
            row.params = { ...row.params, measured: true };
            out.push(row);
            continue;
          }
          const template: ResultRow =
            row ??
            unmeasuredRow(
              {
                implementation: impl,
                // the runner finalizes one side (device, dtype) at a time: its rows say which
                device: rows[0]?.device ?? concreteDevice(o.device),
                dtype: rows[0]?.dtype ?? o.dtype,
                batch: o.batchSize,
                heads: o.heads,
                kvHeads: o.kvHeads,
                headDim: o.headDim,
                seqLen: N,
                causal: o.causal,
                threads: ctx.threads,
              },
              'skipped',
              null,
              { params: { ringSize: P } },
            );
          const why = row?.reason ?? `${N} tokens is beyond what dilbench runs (${MAX_SEQ_LEN})`;
          if (!basis || !basis.projected) {
            out.push({
              ...template,
              status: template.status === 'ok' ? 'skipped' : template.status,
              reason: `${why}; not projected: no measured run of ${impl} at P=${P}`,
            });
            continue;
          }
          // ResultRow.projected is an open record (any suite's projection); ring rows hold a RingProjection
          const proj = scaleProjection(
            basis.projected as unknown as RingProjection,
            basis.seqLen,
            N,
            impl,
            o.links ?? DEFAULT_LINKS,
          );
          out.push({
            ...template,
            status: template.status === 'failed' ? 'failed' : 'skipped',
            reason: `not run (${why}); times under projected are PROJECTED from the measured run at ${basis.seqLen} tokens`,
            params: { ...(template.params ?? {}), ringSize: P, measured: false },
            projected: {
              ...proj,
              projectedFrom: { seqLen: basis.seqLen, medianMs: basis.stats?.medianMs ?? null },
            },
          });
        }
      }
    }
    // rows of other implementations or sizes the loops did not cover stay as they are
    for (const r of rows) if (!out.includes(r) && !o.totalTokens.includes(r.seqLen)) out.push(r);
    return out;
  },
};

export default ringSuite;
