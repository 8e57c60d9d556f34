// The engine's clock: every duration dilbench reads in JavaScript is read here. Kernels and model
// steps are timed by the native core, whose readings come back through Sampler.sample; what the
// core does not time (a session or model build, an ONNX Runtime call, an encoder forward) is timed
// with this monotonic clock.
import { setTimeout as sleep } from 'node:timers/promises';

/** Monotonic milliseconds since an arbitrary origin (only differences mean anything). */
export function nowMs(): number {
  return performance.now();
}

/** Milliseconds on the monotonic clock since `startMs` (a nowMs() reading). */
export function elapsedMs(startMs: number): number {
  return nowMs() - startMs;
}

/** Runs `call` once and returns its value with its wall time in ms (one-off costs such as a model build). */
export async function timeCall<R>(call: () => Promise<R> | R): Promise<{ value: R; ms: number }> {
  const t0 = nowMs();
  const value = await call();
  return { value, ms: nowMs() - t0 };
}

/** Resolves after `ms` milliseconds (an idle pause between measurements; not a duration read). */
export function sleepMs(ms: number): Promise<void> {
  return sleep(ms);
}
