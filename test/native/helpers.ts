// Shared fixtures of the native tests.
import { expect } from 'vitest';

import type { NativeProblem, NativeSessionOptions } from '../../src/native/binding.js';
// @ts-expect-error plain ESM module shared with test/gpu/run-model-checks.mjs
import { randomNormal as randomNormalMjs } from '../gpu/model-checks.mjs';

export const baseProblem: NativeProblem = {
  implementation: 'naive',
  device: 'cpu',
  dtype: 'fp32',
  batch: 1,
  heads: 2,
  kvHeads: 1,
  seqLen: 16,
  headDim: 32,
  causal: false,
  seed: 7,
};

export const baseOptions: NativeSessionOptions = {
  threads: 1,
  useMemoryPool: true,
  usePatternCache: true,
  memoryLimitBytes: 0,
};

export interface CodedError extends Error {
  code?: string;
  field?: string;
}

export function catchSync(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (e) {
    return e as CodedError;
  }
  throw new Error('expected the call to throw');
}

export async function catchAsync(p: Promise<unknown>): Promise<CodedError> {
  try {
    await p;
  } catch (e) {
    return e as CodedError;
  }
  throw new Error('expected the promise to reject');
}

export function expectCoded(err: CodedError, code: string, field?: string): void {
  expect(err).toBeInstanceOf(Error);
  expect(err.code, err.message).toBe(code);
  if (field !== undefined) {
    expect(err.field, err.message).toBe(field);
    expect(err.message).toContain(field.replace(/\[\d+\]$/, ''));
  }
}

/** Deterministic N(0,1) values for user buffers (xorshift32 + Box-Muller), the generator of the
 * model fixtures in test/gpu/model-checks.mjs. */
export const randomNormal = randomNormalMjs as (n: number, seed: number) => Float32Array;

export function compare(
  out: Float32Array,
  ref: Float64Array,
): { maxAbs: number; relL2: number; finite: boolean } {
  expect(out.length).toBe(ref.length);
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  let finite = true;
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) finite = false;
    const d = out[i]! - ref[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    num += d * d;
    den += ref[i]! * ref[i]!;
  }
  return { maxAbs, relL2: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num), finite };
}
