// A native session as the scheduler's Sampler: its timed iterations, and the SM clock readings of
// those iterations where the backend reads one (GPU with NVML; none on the CPU).
import type { NativeCancelToken, NativeSession } from '../native/binding.js';
import type { Sampler } from './types.js';

export function sessionSampler(
  session: Pick<NativeSession, 'sample' | 'sampleClocks'>,
  cancel?: NativeCancelToken,
): Sampler {
  return {
    sample: (iterations: number, cold: boolean) => session.sample(iterations, cold, cancel),
    // optional on the session (a fake binding may lack it)
    lastClocks: () => (typeof session.sampleClocks === 'function' ? session.sampleClocks() : null),
  };
}
