// onnxruntime-node (optional dependency, imported dynamically: absent -> a skip with a note). The
// model is built in process as ONNX bytes (src/frameworks/onnx-graphs.ts): the com.microsoft
// MultiHeadAttention operator or a MatMul-Softmax-MatMul graph. Same threads (intra-op), one
// inter-op thread, sequential execution, all graph optimisations on.
import {
  bhsdToBsh,
  bshToBhsd,
  fromBf16Bits,
  fromFp16Bits,
  matmulAttentionModel,
  multiHeadAttentionModel,
  toBf16Bits,
  toFp16Bits,
} from './onnx-graphs.js';
import {
  maxRssBytes,
  type FrameworkAdapter,
  type FrameworkInputs,
  type FrameworkSkip,
  type FrameworkSpec,
  type PeakMemory,
} from './types.js';
import { callSampler } from '../measure/call-sampler.js';
import { nowMs } from '../measure/clock.js';

// the subset of onnxruntime-node's API used here (it is optional, so no compile-time import)
interface OrtTensor {
  readonly data: unknown;
  dispose?(): void;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
export interface OrtModule {
  InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  Tensor: new (
    type: 'float32' | 'float16' | 'bfloat16',
    data: Float32Array | Uint16Array,
    dims: readonly number[],
  ) => OrtTensor;
  env?: { versions?: { node?: string; common?: string } };
}

/** the 16-bit storage types: ORT's tensor type name and the exact conversions of their bit patterns */
const HALF = {
  fp16: { type: 'float16', toBits: toFp16Bits, fromBits: fromFp16Bits },
  bf16: { type: 'bfloat16', toBits: toBf16Bits, fromBits: fromBf16Bits },
} as const;

let cached: Promise<OrtModule | string> | undefined;

/** onnxruntime-node, or the reason it cannot be loaded. */
export function loadOnnxRuntime(): Promise<OrtModule | string> {
  cached ??= (async () => {
    try {
      const name = 'onnxruntime-node';
      const m = (await import(name)) as OrtModule & { default?: OrtModule };
      return m.InferenceSession
        ? m
        : (m.default ?? 'onnxruntime-node loaded but exports no InferenceSession');
    } catch (e) {
      return `onnxruntime-node is not installed or does not load here (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); install it (npm i onnxruntime-node) to compare`;
    }
  })();
  return cached;
}

export function ortVersion(ort: OrtModule): string {
  return `onnxruntime-node ${ort.env?.versions?.node ?? ort.env?.versions?.common ?? 'unknown'}`;
}

export type OrtGraph = 'mha' | 'matmul';

export class OnnxRuntimeAdapter implements FrameworkAdapter {
  readonly name;
  readonly timing =
    'each iteration timed around `await session.run()` (N-API call and promise included)';
  readonly sampler;
  private rssPeakDelta: number | undefined;
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    private readonly graph: OrtGraph,
    private readonly spec: FrameworkSpec,
    private readonly feeds: Record<string, OrtTensor>,
    readonly setupMs: number,
    private readonly rssBefore: number,
  ) {
    this.name = graph === 'mha' ? ('onnxruntime-mha' as const) : ('onnxruntime-matmul' as const);
    // the engine's clock around each run; the output is released outside the timed region
    this.sampler = callSampler(() => this.session.run(this.feeds), {
      keepResults: false,
      after: (r) => {
        r.output?.dispose?.();
        // peak RSS growth as of the end of the first (cold) call: the least polluted by the others
        this.rssPeakDelta ??= Math.max(0, maxRssBytes() - this.rssBefore);
      },
    });
  }

  get version(): string {
    return ortVersion(this.ort);
  }

  get description(): string {
    return this.graph === 'mha'
      ? `com.microsoft MultiHeadAttention (num_heads=${this.spec.heads}${this.spec.causal ? ', unidirectional=1' : ''}), q/k/v [B, S, H*D]`
      : `MatMul -> Softmax -> MatMul on [B, H, S, D]${this.spec.causal ? ' + causal mask (ConstantOfShape + Trilu, Add)' : ''}`;
  }

  static async create(
    spec: FrameworkSpec,
    inputs: FrameworkInputs,
    graph: OrtGraph,
  ): Promise<OnnxRuntimeAdapter | FrameworkSkip> {
    const name = graph === 'mha' ? ('onnxruntime-mha' as const) : ('onnxruntime-matmul' as const);
    const ort = await loadOnnxRuntime();
    if (typeof ort === 'string') return { name, skipped: true, reason: ort };
    const rssBefore = maxRssBytes();
    const t0 = nowMs();
    const bytes = graph === 'mha' ? multiHeadAttentionModel(spec) : matmulAttentionModel(spec);
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: spec.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        executionProviders: ['cpu'],
        // errors only: a bf16 attempt otherwise prints optimiser warnings before the skip says why
        logSeverityLevel: 3,
      });
    } catch (e) {
      // a precision the CPU execution provider has no kernel for is a skip with ORT's own words
      const msg = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
      if (spec.dtype !== 'fp32' && /Could not find an implementation/i.test(msg)) {
        return {
          name,
          skipped: true,
          reason: `${ortVersion(ort)} CPU has no ${spec.dtype} kernel for this graph: ${msg}`,
        };
      }
      throw e;
    }
    // the inputs are already representable in the storage type (dilbench rounded them), so these
    // conversions are exact
    const half = spec.dtype === 'fp32' ? null : HALF[spec.dtype];
    const tensor = (x: Float32Array, dims: number[]): OrtTensor =>
      half ? new ort.Tensor(half.type, half.toBits(x), dims) : new ort.Tensor('float32', x, dims);
    let feeds: Record<string, OrtTensor>;
    if (graph === 'mha') {
      const dims = [spec.batch, spec.seqLen, spec.heads * spec.headDim];
      feeds = {
        query: tensor(bhsdToBsh(inputs.q, spec), dims),
        key: tensor(bhsdToBsh(inputs.k, spec), dims),
        value: tensor(bhsdToBsh(inputs.v, spec), dims),
      };
    } else {
      const dims = [spec.batch, spec.heads, spec.seqLen, spec.headDim];
      feeds = { q: tensor(inputs.q, dims), k: tensor(inputs.k, dims), v: tensor(inputs.v, dims) };
    }
    const setupMs = nowMs() - t0;
    return new OnnxRuntimeAdapter(ort, session, graph, spec, feeds, setupMs, rssBefore);
  }

  async output(): Promise<Float32Array> {
    const r = await this.session.run(this.feeds);
    const raw = r.output?.data as Float32Array | Uint16Array;
    const data =
      this.spec.dtype === 'fp32'
        ? Float32Array.from(raw as Float32Array)
        : HALF[this.spec.dtype].fromBits(raw as Uint16Array);
    r.output?.dispose?.();
    return this.graph === 'mha' ? bshToBhsd(data, this.spec) : data;
  }

  peakMemory(): PeakMemory {
    return {
      bytes: this.rssPeakDelta ?? Math.max(0, maxRssBytes() - this.rssBefore),
      kind: 'rss-delta',
      note: 'growth of the process peak RSS from before session creation to the end of the first call (input copies included; a lower bound when the process peak was already higher)',
    };
  }

  async dispose(): Promise<void> {
    await this.session.release?.();
  }
}
