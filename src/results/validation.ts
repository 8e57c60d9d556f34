// Numerical validation shared by quick-validation and the frameworks comparison: per-dtype
// tolerances, the error summary of an output against a reference, and the pass/fail record.
import type { DTypeName } from '../native/binding.js';
import type { Validation } from './types.js';

/**
 * Default tolerances against the float64 reference per storage dtype. fp32 and the relative L2
 * bounds of fp16/bf16 are attention-definitions.md's; the doc gives no max-abs bound for the half
 * types, so theirs are dilbench's own, set equal to the relative bound and applied per element to
 * |out - ref| / max(1, |ref|): storing an output of magnitude m in bf16 alone costs up to m * 2^-9
 * (7.8e-3 at m = 4; a causal row 0 is a plain N(0, 1) v row), so an absolute bound would fail a
 * correct kernel by chance (measured on the CPU kernels at 256-1K tokens: bf16 ~2e-3, fp16 ~3e-4).
 */
export const DTYPE_TOLERANCES: Record<DTypeName, { maxAbs: number; relL2: number }> = {
  fp32: { maxAbs: 1e-4, relL2: 1e-5 },
  fp16: { maxAbs: 2e-3, relL2: 2e-3 },
  bf16: { maxAbs: 1e-2, relL2: 1e-2 },
};

/**
 * The tolerance of a dtype against the exact answer (overridden by the options when given); twice
 * that between two implementations (a partner), each of which may be off by the tolerance.
 */
export function toleranceFor(
  dtype: DTypeName,
  o: { toleranceAbs?: number; toleranceRel?: number } = {},
  partner = false,
): { maxAbs: number; relL2: number } {
  const d = DTYPE_TOLERANCES[dtype] ?? DTYPE_TOLERANCES.fp32;
  const f = partner ? 2 : 1;
  return { maxAbs: f * (o.toleranceAbs ?? d.maxAbs), relL2: f * (o.toleranceRel ?? d.relL2) };
}

export interface ErrorSummary {
  maxAbsError: number;
  relL2Error: number;
  /** max over elements of |out - ref| / max(1, |ref|): the half-precision max-abs criterion */
  maxScaledError: number;
}

export function errors(out: ArrayLike<number>, ref: ArrayLike<number>): ErrorSummary {
  let maxAbs = 0;
  let maxScaled = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < out.length; i++) {
    const r = ref[i] ?? NaN; // a reference shorter than the output: an infinite error below
    const d = out[i]! - r;
    const a = Math.abs(d);
    if (!(a <= maxAbs)) maxAbs = Number.isNaN(a) ? Infinity : a;
    const sc = a / Math.max(1, Math.abs(r));
    if (!(sc <= maxScaled)) maxScaled = Number.isNaN(sc) ? Infinity : sc;
    num += d * d;
    den += r * r;
  }
  if (out.length !== ref.length) maxAbs = maxScaled = Infinity;
  const rel = den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
  return {
    maxAbsError: maxAbs,
    relL2Error: Number.isNaN(rel) ? Infinity : rel,
    maxScaledError: maxScaled,
  };
}

/** Whether a dtype's max-abs bound applies per unit of output magnitude (fp16, bf16). */
export function scaledMaxAbs(dtype: DTypeName): boolean {
  return dtype === 'fp16' || dtype === 'bf16';
}

/** A row's validation record: errors against `against`, judged by the dtype's rule. */
export function validationOf(
  against: string,
  e: ErrorSummary,
  tol: { maxAbs: number; relL2: number },
  dtype: DTypeName,
): Validation {
  const scaled = scaledMaxAbs(dtype);
  const absOk = (scaled ? e.maxScaledError : e.maxAbsError) <= tol.maxAbs;
  return {
    against,
    maxAbsError: e.maxAbsError,
    relL2Error: e.relL2Error,
    ...(scaled ? { maxScaledError: e.maxScaledError } : {}),
    passed: absOk && e.relL2Error <= tol.relL2,
    tolerance: scaled ? { ...tol, maxAbsPerUnitOutput: true } : tol,
  };
}
