// The native problem of one suite point, built the same way by every suite: the common shape
// options, the implementation's own parameters, and what the suite overrides (batch, ring size).
import { problemParamsFor, type ImplParams } from '../config/impl-params.js';
import type { SequenceRangesOptions } from '../config/schema.js';
import type { DeviceName, NativeBinding, NativeProblem } from '../native/binding.js';
import type { SuiteContext, SuitePoint } from './types.js';

export type ShapeOptions = Pick<
  SequenceRangesOptions,
  'device' | 'batchSize' | 'heads' | 'kvHeads' | 'headDim' | 'causal' | 'seed'
> &
  Partial<Pick<SequenceRangesOptions, 'dtype'>>;

/** The backend of options whose `--device auto` the runner has resolved. */
export function concreteDevice(device: ShapeOptions['device']): DeviceName {
  if (device === 'auto')
    throw new Error(
      'internal error: --device auto must be resolved (runSuite) before problems are built',
    );
  return device;
}

/** `binding`: whose descriptors say which implementations decode (and so run causal). */
export function problemFor(
  o: ShapeOptions & ImplParams,
  binding: NativeBinding,
  implementation: string,
  seqLen: number,
  overrides: Partial<NativeProblem> = {},
  implParams: ImplParams = o,
): NativeProblem {
  return {
    implementation,
    device: concreteDevice(o.device),
    dtype: o.dtype ?? 'fp32',
    batch: o.batchSize,
    heads: o.heads,
    kvHeads: o.kvHeads,
    seqLen,
    headDim: o.headDim,
    causal: o.causal,
    seed: o.seed,
    ...problemParamsFor(implParams, implementation, seqLen, binding),
    ...overrides,
  };
}

/** Every (length, implementation) pair, lengths outermost. */
export function gridPoints(
  o: ShapeOptions & ImplParams & { lengths: number[] },
  ctx: Pick<SuiteContext, 'implementations' | 'binding'>,
): SuitePoint[] {
  return o.lengths.flatMap((seqLen) =>
    ctx.implementations.map((implementation) => ({
      problem: problemFor(o, ctx.binding, implementation, seqLen),
    })),
  );
}
