// A NativeBinding that runs plugin implementations in the plugin worker (worker.ts) and everything
// else in this process. Before a plugin point is timed, its output on a small problem of the same
// shape family (batch 1, at most VALIDATION_SEQ_LEN tokens, same heads, head dim, mask, dtype and
// parameters) is checked against the float64 reference of the function it declares, with the
// quick-validation tolerances of the dtype; a wrong plugin fails there and is never timed.
import type {
  NativeBinding,
  NativeCancelToken,
  NativePlan,
  NativeProblem,
  NativeSession,
  NativeSessionOptions,
  PoolStats,
} from '../native/binding.js';
import type { Validation } from '../results/types.js';
import { errors, toleranceFor, validationOf } from '../results/validation.js';
import { PluginWorker, type WorkerError } from './worker.js';
import { VALIDATION_FAILED } from './types.js';

/** Tokens of the validation problem (the float64 reference of dense attention at 256 tokens is milliseconds). */
export const VALIDATION_SEQ_LEN = 256;

/**
 * The small problem a plugin point is validated on before timing: batch 1, at most
 * VALIDATION_SEQ_LEN tokens, the rest of the shape family unchanged (a kv-cache split given for
 * the full length falls back to the default of the small one).
 */
export function validationProblem(p: NativeProblem): NativeProblem {
  const vp: NativeProblem = { ...p, batch: 1, seqLen: Math.min(p.seqLen, VALIDATION_SEQ_LEN) };
  if (vp.seqLen !== p.seqLen) {
    delete vp.promptLen;
    delete vp.newTokens;
  }
  return vp;
}

export interface PluginSessionExtras {
  /** the pre-timing check against the float64 reference; null: the plugin declares no known function */
  validation: Validation | null;
}

/** A plugin session's pool statistics: plugins allocate outside dilbench's memory pool. */
export const EMPTY_POOL: PoolStats = {
  allocations: 0,
  cacheHits: 0,
  cacheMisses: 0,
  deallocations: 0,
  bytesInUse: 0,
  peakBytesInUse: 0,
  bytesReserved: 0,
  peakBytesReserved: 0,
  failedAllocations: 0,
};

/** A session living in the plugin worker; samples are timed there by the native engine. */
class RemoteSession implements NativeSession, PluginSessionExtras {
  private pool: PoolStats = EMPTY_POOL;
  private disposed = false;

  constructor(
    private readonly worker: PluginWorker,
    private readonly id: number,
    readonly plan: NativePlan,
    readonly validation: Validation | null,
    private readonly name: string,
  ) {}

  private async withCancel<T>(
    cancel: NativeCancelToken | undefined,
    what: string,
    run: () => Promise<T>,
  ): Promise<T> {
    if (this.disposed)
      throw Object.assign(new Error('session disposed'), { code: 'ERR_DILBENCH_INVALID_CONFIG' });
    if (cancel?.cancelled)
      throw Object.assign(new Error('cancelled'), { code: 'ERR_DILBENCH_CANCELLED' });
    // the worker's own token follows ours (checked between its iterations)
    const poll = cancel
      ? setInterval(() => cancel.cancelled && this.worker.notify('cancel', [this.id]), 20)
      : undefined;
    try {
      return await run();
    } catch (e) {
      const err = e as WorkerError;
      if (err.code && err.code !== 'ERR_DILBENCH_CANCELLED' && !err.message.includes(this.name)) {
        err.message = `plugin implementation '${this.name}': ${err.message} (${what})`;
      }
      throw err;
    } finally {
      if (poll) clearInterval(poll);
    }
  }

  async sample(
    iterations: number,
    cold: boolean,
    cancel?: NativeCancelToken,
  ): Promise<Float64Array> {
    return this.withCancel(cancel, 'sampling', async () => {
      const r = await this.worker.call<{ samples: Float64Array; pool: PoolStats }>(
        'sample',
        [this.id, iterations, cold],
        `sampling ${this.name}`,
      );
      this.pool = r.pool;
      return r.samples;
    });
  }

  async output(cancel?: NativeCancelToken): Promise<Float32Array> {
    return this.withCancel(cancel, 'output', async () => {
      const r = await this.worker.call<{ output: Float32Array; pool: PoolStats }>(
        'output',
        [this.id],
        `the output of ${this.name}`,
      );
      this.pool = r.pool;
      return r.output;
    });
  }

  input(): Float32Array {
    throw Object.assign(
      new Error(
        `the inputs of plugin implementation '${this.name}' stay in the plugin worker; it was validated before timing (session.validation)`,
      ),
      {
        code: 'ERR_DILBENCH_UNSUPPORTED',
      },
    );
  }

  poolStats(): PoolStats {
    return this.pool;
  }

  patternCacheStats(): null {
    return null;
  }

  telemetry(): null {
    return null;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.worker.notify('dispose', [this.id]);
  }
}

export interface IsolatedBinding extends NativeBinding {
  /** stops the plugin worker (idempotent) */
  close(): void;
  readonly worker: PluginWorker;
}

function validationError(name: string, v: Validation, seqLen: number): Error {
  const e = new Error(
    `plugin implementation '${name}' failed validation against the float64 reference of its declared function ` +
      `(seqLen ${seqLen}, batch 1): max abs error ${v.maxAbsError.toExponential(3)}, relative L2 error ${v.relL2Error.toExponential(3)} ` +
      `(allowed ${v.tolerance.maxAbs}, ${v.tolerance.relL2}); not timed`,
  );
  return Object.assign(e, { code: VALIDATION_FAILED, validation: v });
}

/**
 * Wraps `binding` so the implementations named in `plugins` (already registered in `binding` by
 * loadPlugin) run in a worker process loading `libraries`. A call that does not answer within
 * `timeLimitSeconds` kills the worker (the call fails; the next one starts a fresh worker).
 */
export function isolatePlugins(
  binding: NativeBinding,
  pluginImplementations: string[],
  libraries: string[],
  opts: { timeLimitSeconds: number },
): IsolatedBinding {
  const names = new Set(pluginImplementations);
  const worker = new PluginWorker(libraries, opts);
  const checks = new Map<string, Promise<Validation | null>>();
  const functionOf = (name: string) =>
    binding.listImplementations().find((i) => i.name === name)?.function ?? null;

  async function check(p: NativeProblem, o: NativeSessionOptions): Promise<Validation | null> {
    if (!functionOf(p.implementation)) return null;
    const vp = validationProblem(p);
    const key = JSON.stringify(vp);
    let pending = checks.get(key);
    if (!pending) {
      pending = (async () => {
        const { id } = await worker.call<{ id: number }>(
          'createSession',
          [vp, { ...o, memoryLimitBytes: 0 }],
          `validation of ${p.implementation}`,
        );
        try {
          const { output } = await worker.call<{ output: Float32Array }>(
            'output',
            [id],
            `validation of ${p.implementation}`,
          );
          const { q, k, v } = await worker.call<{
            q: Float32Array;
            k: Float32Array;
            v: Float32Array;
          }>('inputs', [id], `validation of ${p.implementation}`);
          const ref = await binding.reference(vp, q, k, v);
          const checked = validationOf(
            'float64-reference',
            errors(output, ref),
            toleranceFor(p.dtype),
            p.dtype,
          );
          return { ...checked, checkedAt: { seqLen: vp.seqLen, batch: 1 } };
        } finally {
          worker.notify('dispose', [id]);
        }
      })();
      checks.set(key, pending);
      // a crash or hang is not a verdict on the kernel's numbers: try again at the next point
      pending.catch(() => checks.delete(key));
    }
    const v = await pending;
    if (v && !v.passed) throw validationError(p.implementation, v, vp.seqLen);
    return v;
  }

  const wrapped: IsolatedBinding = {
    info: () => binding.info(),
    listImplementations: () => binding.listImplementations(),
    ...(binding.paramSpecs ? { paramSpecs: () => binding.paramSpecs!() } : {}),
    ...(binding.resolvedParams
      ? {
          resolvedParams: (p: NativeProblem, fn?: string) => binding.resolvedParams!(p, fn),
        }
      : {}),
    ...(binding.loadPlugin ? { loadPlugin: (path: string) => binding.loadPlugin!(path) } : {}),
    plan: (p, o) => binding.plan(p, o),
    async createSession(p, o) {
      if (!names.has(p.implementation)) return binding.createSession(p, o);
      let validation: Validation | null;
      try {
        validation = await check(p, o);
      } catch (e) {
        const err = e as WorkerError;
        if (err.code !== VALIDATION_FAILED && !err.message.includes(p.implementation)) {
          err.message = `plugin implementation '${p.implementation}': ${err.message}`;
        }
        throw err;
      }
      const r = await worker.call<{ id: number; plan: NativePlan }>(
        'createSession',
        [p, o],
        `createSession of ${p.implementation}`,
      );
      return new RemoteSession(worker, r.id, r.plan, validation, p.implementation);
    },
    async compute(p, o, q, k, v, cancel, out, copyInputs) {
      if (names.has(p.implementation)) {
        throw Object.assign(
          new Error(
            `computeAttention on plugin implementation '${p.implementation}' is not supported; benchmark it with runBenchmark({ plugins })`,
          ),
          {
            code: 'ERR_DILBENCH_UNSUPPORTED',
          },
        );
      }
      return binding.compute(p, o, q, k, v, cancel, out, copyInputs);
    },
    reference: (p, q, k, v, cancel) => binding.reference(p, q, k, v, cancel),
    measurePeak: (t, d) => binding.measurePeak(t, d),
    ...(binding.measureDevicePeak
      ? { measureDevicePeak: (d: 'cuda', s: number) => binding.measureDevicePeak!(d, s) }
      : {}),
    setSimdLevel: (l) => binding.setSimdLevel(l),
    CancelToken: binding.CancelToken,
    close: () => worker.close(),
    worker,
  };
  return wrapped;
}
