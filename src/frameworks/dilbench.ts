// dilbench's own kernels through the native binding: iterations timed inside native code, peak
// memory exact from the session's memory pool.
import { sessionSampler } from '../measure/session-sampler.js';
import type {
  NativeBinding,
  NativeProblem,
  NativeSession,
  NativeSessionOptions,
} from '../native/binding.js';
import type { FrameworkAdapter, FrameworkInputs, FrameworkSpec, PeakMemory } from './types.js';
import { nowMs } from '../measure/clock.js';

export function nativeProblem(
  spec: FrameworkSpec,
  implementation = spec.implementation,
): NativeProblem {
  return {
    implementation,
    device: 'cpu',
    dtype: spec.dtype,
    batch: spec.batch,
    heads: spec.heads,
    kvHeads: spec.heads,
    seqLen: spec.seqLen,
    headDim: spec.headDim,
    causal: spec.causal,
    seed: spec.seed,
    ...(spec.segmentLengths ? { segmentLengths: spec.segmentLengths } : {}),
    ...(spec.dilationRates ? { dilationRates: spec.dilationRates } : {}),
  };
}

export function sessionOptions(spec: FrameworkSpec): NativeSessionOptions {
  return { threads: spec.threads, useMemoryPool: true, usePatternCache: true, memoryLimitBytes: 0 };
}

/** The seeded inputs every framework is fed: those of a dilbench session of the same problem. */
export async function seededInputs(
  binding: NativeBinding,
  spec: FrameworkSpec,
): Promise<FrameworkInputs> {
  const session = await binding.createSession(nativeProblem(spec, 'naive'), sessionOptions(spec));
  try {
    return {
      q: session.input('q').slice(),
      k: session.input('k').slice(),
      v: session.input('v').slice(),
    };
  } finally {
    session.dispose();
  }
}

export class DilbenchAdapter implements FrameworkAdapter {
  readonly name = 'dilbench' as const;
  readonly timing = 'each iteration timed inside native code (steady clock), no JS in the loop';
  readonly sampler;
  private constructor(
    private readonly session: NativeSession,
    readonly version: string,
    readonly description: string,
    readonly setupMs: number,
  ) {
    // the suites' path: the session's own timed iterations (and clocks, where it reads them)
    this.sampler = sessionSampler(session);
  }

  static async create(binding: NativeBinding, spec: FrameworkSpec): Promise<DilbenchAdapter> {
    const t0 = nowMs();
    const session = await binding.createSession(nativeProblem(spec), sessionOptions(spec));
    const setupMs = nowMs() - t0;
    const info = binding.info();
    return new DilbenchAdapter(
      session,
      `dilbench ${info.version} (${info.buildType}, SIMD ${info.simdLevel})`,
      `dilbench '${spec.implementation}' kernel, ${spec.dtype === 'fp32' ? 'fp32' : `${spec.dtype} storage, fp32 arithmetic`}, [B, H, S, D]`,
      setupMs,
    );
  }

  /** the FLOPs one run does, as the native planner counts them (useful FLOPs only: the selected pairs) */
  get flops(): number {
    return this.session.plan.flops;
  }

  /** the session's own seeded inputs (identical to seededInputs for the same spec) */
  inputs(): FrameworkInputs {
    return { q: this.session.input('q'), k: this.session.input('k'), v: this.session.input('v') };
  }

  output(): Promise<Float32Array> {
    return this.session.output();
  }

  peakMemory(): PeakMemory {
    const s = this.session.poolStats();
    return {
      bytes: s.peakBytesReserved,
      kind: 'pool-exact',
      note: 'memory pool high-water mark (inputs, output and workspace; exact)',
    };
  }

  async dispose(): Promise<void> {
    this.session.dispose();
  }
}
