// The `quick-validation` suite: every implementation at 1K, 4K and 16K (batch shrinking with length),
// each output checked numerically: against the float64 reference (binding.reference on the session's
// own inputs) where that is affordable, beyond that against a validated implementation of the same
// function (flash for the dense ones, dilated for ring-dilated, ...). Built to finish in under a
// minute on a 2-core CPU: 2 heads, headDim 64, one timed iteration per case by default.
import { z } from 'zod';
import { implParamsConfig, type ImplParams } from '../config/impl-params.js';
import type { NativeProblem } from '../native/binding.js';
import type { ResultRow } from '../results/types.js';
import { errors, toleranceFor, validationOf } from '../results/validation.js';
// re-exported: tests and callers have imported them from here
export {
  DTYPE_TOLERANCES,
  errors,
  scaledMaxAbs,
  toleranceFor,
  type ErrorSummary,
} from '../results/validation.js';
import { lengthList, parseFamilyOptions, toNumber } from '../suite/family-options.js';
import type { SequenceRangesOptions } from '../config/schema.js';
import { problemFor } from '../suite/problem.js';
import type { MeasuredPoint, SuiteDefinition, SuitePoint } from '../suite/types.js';
import { ringProjectionHook } from '../suite/ring-projection.js';
import { implementationFunction, partnerOf } from '../implementations/descriptors.js';

export const QUICK_LENGTHS = [1024, 4096, 16384];
/** float64 reference when the case's flops are at most this (dense 4K at 2 heads is 8.6e9) */
export const REFERENCE_FLOPS_LIMIT = 1e10;
export interface QuickValidationOptions extends SequenceRangesOptions {
  /** max abs error tolerance against the float64 reference (default: the dtype's, 1e-4 for fp32 as attention-definitions.md says) */
  toleranceAbs?: number;
  /** relative L2 error tolerance against the float64 reference (default: the dtype's, 1e-5 for fp32) */
  toleranceRel?: number;
  /** float64 reference up to this many flops per case */
  referenceFlopsLimit: number;
}

const nonNeg = {
  schema: z.preprocess(toNumber, z.number().min(0).finite()),
  allowed: 'a number >= 0',
};

export function quickBatch(seqLen: number, requested: number): number {
  return Math.max(1, Math.floor((requested * 4096) / seqLen));
}

/** State of one run: float64 references per function, fp32 outputs per implementation (for partners). */
class ValidationState {
  refs = new Map<string, Float64Array>();
  outputs = new Map<string, Float32Array>();
  pending: { row: ResultRow; partner: string; out: Float32Array; key: string }[] = [];
}
const states = new WeakMap<object, ValidationState>();

function stateOf(o: object): ValidationState {
  let s = states.get(o);
  if (!s) states.set(o, (s = new ValidationState()));
  return s;
}

async function afterMeasure(m: MeasuredPoint<QuickValidationOptions>): Promise<void> {
  ringProjectionHook(m);
  const { row, session, binding, options: o } = m;
  // a plugin session: its inputs stay in the plugin worker; it was checked against the float64
  // reference of its declared function before timing (row.validation), or is marked unvalidated
  if ('validation' in session) return;
  const st = stateOf(o);
  const out = await session.output(m.cancel);
  const impl = row.implementation;
  // outputs and references are those of one device and dtype (a --compare-dtypes run has several)
  const key = `${row.seqLen}:${row.batch}:${row.device}:${row.dtype}`;
  const tolRef = toleranceFor(row.dtype, o);
  const tolPartner = toleranceFor(row.dtype, o, true);
  // function and partner from the implementation's descriptor (native, declared beside the kernel)
  const partner = partnerOf(impl, binding);
  const partnerRuns = partner !== undefined && (o.implementations?.includes(partner) ?? true);
  const fn = `${implementationFunction(impl, binding) ?? impl}:${key}:${row.causal}`;
  // a reference already computed for the same function and inputs costs nothing more
  const useReference =
    st.refs.has(fn) || row.flopsPerIteration <= o.referenceFlopsLimit || !partnerRuns;
  if (useReference) {
    let ref = st.refs.get(fn);
    if (!ref) {
      const problem: NativeProblem = {
        ...m.point.problem,
        batch: row.batch,
        seqLen: row.effectiveSeqLen,
      };
      ref = await binding.reference(
        problem,
        session.input('q'),
        session.input('k'),
        session.input('v'),
        m.cancel,
      );
      st.refs.set(fn, ref);
    }
    row.validation = validationOf('float64-reference', errors(out, ref), tolRef, row.dtype);
  } else {
    const po = st.outputs.get(`${partner}:${key}`);
    if (po) row.validation = validationOf(partner, errors(out, po), tolPartner, row.dtype);
    else st.pending.push({ row, partner, out, key });
  }
  st.outputs.set(`${impl}:${key}`, out);
  // cases waiting for this implementation's output
  for (const p of st.pending.filter((x) => x.partner === impl && x.key === key)) {
    p.row.validation = validationOf(impl, errors(p.out, out), tolPartner, p.row.dtype);
    st.pending.splice(st.pending.indexOf(p), 1);
  }
}

export const quickValidation: SuiteDefinition<QuickValidationOptions> = {
  name: 'quick-validation',
  description:
    'Every implementation at 1K, 4K and 16K: output checked against the float64 reference (or a validated implementation), with a timing table',
  parseOptions: (raw) => ({
    referenceFlopsLimit: REFERENCE_FLOPS_LIMIT,
    ...parseFamilyOptions<
      Partial<{ toleranceAbs: number; toleranceRel: number; referenceFlopsLimit: number }>
    >(
      raw,
      {
        toleranceAbs: nonNeg,
        toleranceRel: nonNeg,
        referenceFlopsLimit: nonNeg,
        sequenceLengths: {
          schema: lengthList(1 << 20),
          allowed: 'one or more lengths >= 1 (K = 1024), e.g. 1K,4K,16K',
        },
      },
      (own) => [...new Set((own.sequenceLengths as number[] | undefined) ?? QUICK_LENGTHS)],
      // a CI gate: one timed iteration after the cold start, no plots (--plots true in the API to get them)
      { heads: 2, headDim: 64, batchSize: 1, warmup: 0, runs: 1, plots: false },
    ),
  }),
  points(o, ctx): SuitePoint[] {
    states.delete(o);
    const points: SuitePoint[] = [];
    for (const seqLen of o.lengths) {
      // kv-cache: a few decode steps (the recompute path costs one causal pass per step)
      const params: ImplParams = {
        ...o,
        newTokens: o.newTokens ?? (o.promptLen === undefined ? (seqLen > 4096 ? 2 : 8) : undefined),
      };
      for (const implementation of ctx.implementations) {
        const problem = problemFor(
          o,
          ctx.binding,
          implementation,
          seqLen,
          { batch: quickBatch(seqLen, o.batchSize) },
          params,
        );
        points.push({ problem });
      }
    }
    return points;
  },
  config(o) {
    return {
      lengths: o.lengths,
      batchSize: o.batchSize,
      batchRule: 'batch = max(1, floor(batchSize * 4096 / seqLen))',
      heads: o.heads,
      kvHeads: o.kvHeads,
      headDim: o.headDim,
      causal: o.causal,
      tolerance: { ...toleranceFor(o.dtype, o), partner: toleranceFor(o.dtype, o, true) },
      ...(o.compareDtypes
        ? {
            toleranceByDtype: Object.fromEntries(
              o.compareDtypes.map((d) => [d, toleranceFor(d, o)]),
            ),
          }
        : {}),
      referenceFlopsLimit: o.referenceFlopsLimit,
      ...implParamsConfig(o),
    };
  },
  afterMeasure,
  finalize(rows, o) {
    const st = stateOf(o);
    for (const p of st.pending) {
      p.row.validation = {
        against: p.partner,
        maxAbsError: NaN,
        relL2Error: NaN,
        passed: false,
        tolerance: toleranceFor(p.row.dtype, o, true),
      };
      p.row.warnings = [
        ...(p.row.warnings ?? []),
        `not validated: ${p.partner} produced no output at this length`,
      ];
    }
    states.delete(o);
    // a measured case without a check is a failure of the gate, never a silent pass
    for (const r of rows) {
      if (r.status === 'ok' && !r.validation) {
        r.validation = {
          against: 'none',
          maxAbsError: NaN,
          relL2Error: NaN,
          passed: false,
          tolerance: toleranceFor(r.dtype, o),
        };
        r.warnings = [...(r.warnings ?? []), 'not validated'];
      }
    }
    return rows;
  },
};

/** The failures a CI gate exits non-zero on: failed rows and failed validations. */
export function quickValidationFailure(rows: ResultRow[]): string | null {
  const failed = rows.filter(
    (r) => r.status === 'failed' || (r.validation && !r.validation.passed),
  );
  if (!failed.length) return null;
  return `quick-validation: ${failed.length} case(s) failed: ${failed
    .map(
      (r) =>
        `${r.implementation}@${r.seqLen}${r.validation && !r.validation.passed ? ` (max abs ${r.validation.maxAbsError.toExponential(2)}, rel L2 ${r.validation.relL2Error.toExponential(2)} vs ${r.validation.against})` : ` (${r.status}: ${r.reason ?? ''})`}`,
    )
    .join(', ')}`;
}

export default quickValidation;
