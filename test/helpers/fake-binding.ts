// A fake NativeBinding: same interface as the addon, sizes and times computed from formulas,
// attention computed in plain TypeScript. Unit tests run with it when no addon is built.
import type {
  NativeBinding,
  NativeCancelToken,
  NativeImplementationInfo,
  NativeInfo,
  NativePlan,
  NativeProblem,
  NativeSession,
  NativeSessionOptions,
  PoolStats,
} from '../../src/native/binding.js';

export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** the problem field an INVALID_CONFIG is about, as the addon reports it */
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface FakeOptions {
  /** flop/s the fake sessions "run" at (sample durations = flops / rate) */
  rate?: number;
  /** info().lastLevelCacheBytes (absent when not given, as from older builds) */
  lastLevelCacheBytes?: number;
  /** throw this error from createSession or sample for matching problems */
  failOn?: (p: NativeProblem) => CodedError | undefined;
  /** where a failure is injected (default: sample) */
  failAt?: 'createSession' | 'sample';
  /** called before each sample() resolves (lets a test abort mid-run) */
  onSample?: (p: NativeProblem) => void;
  hardwareThreads?: number;
  implementations?: string[];
  /** pretend a CUDA device with this much memory exists (flash and naive also listed on cuda) */
  cudaMemoryBytes?: number;
  /** reject matching problems at plan() time (like an unsupported parameter) */
  rejectPlan?: (p: NativeProblem) => CodedError | undefined;
}

/** The fake computes dense attention for every name; naive and flash are each other's partner. */
function fakeDescriptor(name: string): Partial<NativeImplementationInfo> {
  const partner = name === 'naive' ? 'flash' : name === 'flash' ? 'naive' : null;
  return {
    function: 'dense',
    exactDense: 'always',
    partner,
    params: [],
    telemetry: [],
    origin: 'built-in',
    countsSource: 'kernel',
  };
}

class FakeCancelToken implements NativeCancelToken {
  private c = false;
  cancel(): void {
    this.c = true;
  }
  get cancelled(): boolean {
    return this.c;
  }
}

function check(p: NativeProblem): void {
  const ints: (keyof NativeProblem)[] = ['batch', 'heads', 'kvHeads', 'seqLen', 'headDim'];
  for (const k of ints) {
    const v = p[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new CodedError(
        'ERR_DILBENCH_INVALID_CONFIG',
        `${k} must be a positive integer, got ${String(v)}`,
      );
    }
  }
  if (![32, 64, 128].includes(p.headDim)) {
    throw new CodedError(
      'ERR_DILBENCH_INVALID_CONFIG',
      `headDim: ${p.headDim} is not supported (32, 64, 128)`,
      'headDim',
    );
  }
  if (p.heads % p.kvHeads !== 0)
    throw new CodedError('ERR_DILBENCH_INVALID_CONFIG', 'heads must be a multiple of kvHeads');
}

export function fakePlan(p: NativeProblem, o: NativeSessionOptions): NativePlan {
  check(p);
  const { batch: b, heads: h, kvHeads: kvh, seqLen: s, headDim: d } = p;
  const inputBytes = 4 * (b * h * s * d + 2 * b * kvh * s * d);
  const outputBytes = 4 * b * h * s * d;
  const workspaceBytes =
    p.implementation === 'naive' ? 4 * b * h * s * s : 4 * Math.max(1, o.threads) * 64 * (64 + d);
  const pairs = p.causal ? (s * (s + 1)) / 2 : s * s;
  return {
    effectiveSeqLen: s,
    inputBytes,
    outputBytes,
    workspaceBytes,
    totalBytes: inputBytes + outputBytes + workspaceBytes,
    flops: 4 * b * h * pairs * d,
    bytesMoved: inputBytes + outputBytes,
  };
}

/** Dense attention in float64, the definition of the docs. */
export function denseAttention(
  p: NativeProblem,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
): Float64Array {
  const { batch: B, heads: H, kvHeads: KV, seqLen: S, headDim: D } = p;
  const scale = p.scale && p.scale > 0 ? p.scale : 1 / Math.sqrt(D);
  const out = new Float64Array(B * H * S * D);
  const group = H / KV;
  const scores = new Float64Array(S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      const qo = (b * H + h) * S * D;
      const ko = (b * KV + kvh) * S * D;
      for (let i = 0; i < S; i++) {
        const last = p.causal ? i : S - 1;
        let max = -Infinity;
        for (let j = 0; j <= last; j++) {
          let dot = 0;
          for (let x = 0; x < D; x++) dot += q[qo + i * D + x]! * k[ko + j * D + x]!;
          scores[j] = dot * scale;
          if (scores[j]! > max) max = scores[j]!;
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) sum += scores[j] = Math.exp(scores[j]! - max);
        for (let j = 0; j <= last; j++) {
          const w = scores[j]! / sum;
          for (let x = 0; x < D; x++) out[qo + i * D + x]! += w * v[ko + j * D + x]!;
        }
      }
    }
  return out;
}

export interface FakeBinding extends NativeBinding {
  /** problems createSession was called with, in order */
  readonly sessions: NativeProblem[];
}

export function createFakeBinding(opts: FakeOptions = {}): FakeBinding {
  const rate = opts.rate ?? 50e9;
  const impls = opts.implementations ?? ['naive', 'flash'];
  const hardwareThreads = opts.hardwareThreads ?? 2;
  const sessions: NativeProblem[] = [];
  const info: NativeInfo = {
    version: '0.0.0-fake',
    buildType: 'Fake',
    simdLevel: 'avx2',
    detectedSimdLevel: 'avx2',
    hardwareThreads,
    ...(opts.lastLevelCacheBytes !== undefined
      ? { lastLevelCacheBytes: opts.lastLevelCacheBytes }
      : {}),
    cuda: opts.cudaMemoryBytes
      ? {
          compiled: true,
          deviceCount: 1,
          devices: [
            {
              index: 0,
              name: 'Fake GPU',
              computeCapability: '9.0',
              totalMemoryBytes: opts.cudaMemoryBytes,
              smClockMHz: 1000,
              driverVersion: '0',
              runtimeVersion: '0',
            },
          ],
        }
      : { compiled: false, deviceCount: 0, devices: [] },
  };
  const fail = (p: NativeProblem, at: 'createSession' | 'sample') => {
    if ((opts.failAt ?? 'sample') !== at) return;
    const e = opts.failOn?.(p);
    if (e) throw e;
  };

  const binding: FakeBinding = {
    sessions,
    info: () => info,
    listImplementations: () => [
      ...impls.map((name) => ({
        name,
        device: 'cpu' as const,
        dtypes: ['fp32' as const],
        description: `fake ${name}`,
        ...fakeDescriptor(name),
      })),
      ...(opts.cudaMemoryBytes
        ? impls.map((name) => ({
            name,
            device: 'cuda' as const,
            dtypes: ['fp32' as const, 'fp16' as const],
            description: `fake ${name}`,
            ...fakeDescriptor(name),
          }))
        : []),
    ],
    plan(problem, options) {
      if (!impls.includes(problem.implementation)) {
        throw new CodedError(
          'ERR_DILBENCH_INVALID_CONFIG',
          `unknown implementation ${problem.implementation}`,
          'implementation',
        );
      }
      const rejected = opts.rejectPlan?.(problem);
      if (rejected) throw rejected;
      return fakePlan(problem, options);
    },
    async createSession(problem, options): Promise<NativeSession> {
      const plan = binding.plan(problem, options);
      if (options.memoryLimitBytes > 0 && plan.totalBytes > options.memoryLimitBytes) {
        throw new CodedError('ERR_DILBENCH_OUT_OF_MEMORY', 'over the memory limit');
      }
      sessions.push(problem);
      fail(problem, 'createSession');
      let disposed = false;
      const stats: PoolStats = {
        allocations: 1,
        cacheHits: 0,
        cacheMisses: 1,
        deallocations: 0,
        bytesInUse: plan.workspaceBytes,
        peakBytesInUse: plan.totalBytes,
        bytesReserved: plan.totalBytes,
        peakBytesReserved: plan.totalBytes,
        failedAllocations: 0,
      };
      let n = 0;
      return {
        plan,
        async sample(iterations, _cold, cancel) {
          if (disposed) throw new CodedError('ERR_DILBENCH_INVALID_CONFIG', 'session disposed');
          opts.onSample?.(problem);
          if (cancel?.cancelled) throw new CodedError('ERR_DILBENCH_CANCELLED', 'cancelled');
          fail(problem, 'sample');
          const base = (plan.flops / rate) * 1e9;
          const out = new Float64Array(iterations);
          for (let i = 0; i < iterations; i++) out[i] = base * (1 + 0.01 * (((n++ * 7) % 5) - 2));
          await new Promise((r) => setImmediate(r));
          return out;
        },
        async output() {
          return new Float32Array(problem.batch * problem.heads * problem.seqLen * problem.headDim);
        },
        input(which) {
          const heads = which === 'q' ? problem.heads : problem.kvHeads;
          return new Float32Array(problem.batch * heads * problem.seqLen * problem.headDim);
        },
        poolStats: () => ({ ...stats }),
        dispose() {
          disposed = true;
        },
      };
    },
    async compute(problem, options, q, k, v, cancel, out) {
      binding.plan(problem, options);
      if (cancel?.cancelled) throw new CodedError('ERR_DILBENCH_CANCELLED', 'cancelled');
      const o = denseAttention(problem, q, k, v);
      if (!out) return Float32Array.from(o);
      out.set(o);
      return out;
    },
    async reference(problem, q, k, v) {
      return denseAttention(problem, q, k, v);
    },
    async measurePeak(threads) {
      return { fmaGflops: 100 * threads, streamGBps: 20, threads, simdLevel: 'avx2' };
    },
    setSimdLevel() {},
    CancelToken: FakeCancelToken,
  };
  return binding;
}
