// Shared by the distributed ring tests: the seeded inputs a session generates (the ranks generate
// the same streams), and the output errors of src/results/validation (the one error rule).
import type { NativeBinding, NativeProblem } from '../../src/native/binding.js';
import { errors as outputErrors } from '../../src/results/validation.js';

export const SINGLE_THREAD_SESSION = {
  threads: 1,
  useMemoryPool: true,
  usePatternCache: false,
  memoryLimitBytes: 0,
};

export async function inputs(b: NativeBinding, p: NativeProblem) {
  const s = await b.createSession(p, SINGLE_THREAD_SESSION);
  try {
    return { q: s.input('q').slice(), k: s.input('k').slice(), v: s.input('v').slice() };
  } finally {
    s.dispose();
  }
}

export function errors(
  out: ArrayLike<number>,
  ref: ArrayLike<number>,
): { maxAbs: number; relL2: number } {
  const e = outputErrors(out, ref);
  return { maxAbs: e.maxAbsError, relL2: e.relL2Error };
}
