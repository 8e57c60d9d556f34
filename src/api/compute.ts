// computeAttention(): run one implementation on the caller's own q, k, v.
import { z } from 'zod';
import type {
  NativeCancelToken,
  NativeProblem,
  NativeSessionOptions,
  NativeBinding,
} from '../native/binding.js';
import { ConfigError } from '../config/errors.js';
import { decodesCausally } from '../config/impl-params.js';
import { getDilbench, type Dilbench } from '../native/dilbench.js';
import { paramSpec } from '../implementations/descriptors.js';
import { paramSchema } from '../config/impl-params.js';

/** Implementation-specific parameters, exactly as the native problem takes them (named like the CLI flags). */
type ImplementationParams = Pick<
  NativeProblem,
  | 'segmentLengths'
  | 'dilationRates'
  | 'ringSize'
  | 'blockPattern'
  | 'blockSize'
  | 'window'
  | 'stride'
  | 'density'
  | 'promptLen'
  | 'newTokens'
  | 'prefill'
>;

export interface ComputeAttentionOptions extends ImplementationParams {
  implementation: string;
  /** [batch, heads, seqLen, headDim] */
  q: Float32Array;
  /** [batch, kvHeads, seqLen, headDim] */
  k: Float32Array;
  /** [batch, kvHeads, seqLen, headDim] */
  v: Float32Array;
  /**
   * Optional [batch, heads, seqLen, headDim] array to write the output into (and resolve to), so
   * repeated calls allocate nothing new. Left undefined until the promise settles; may be one of
   * q, k, v (those are copied when the call is made) unless copyInputs is false. Fastest when its
   * data starts on a 64-byte boundary (V8's own large arrays usually start 16 bytes past one).
   */
  out?: Float32Array;
  /**
   * true (default): q, k, v are copied when the call is made (into 64-byte-aligned memory, by the
   * calling and the worker thread together), so the caller may change them at once. false: the
   * kernel reads them in place, saving the copy; the caller must then neither write nor transfer
   * them until the promise settles, and `out` must not overlap them. In place, their alignment
   * counts: flash at 1K runs 3-5% slower on arrays that do not start on a 64-byte boundary (V8's
   * own large arrays start 16 bytes past one) than on aligned ones.
   */
  copyInputs?: boolean;
  batch: number;
  heads: number;
  /** default: heads */
  kvHeads?: number;
  seqLen: number;
  headDim: number;
  causal?: boolean;
  /** default 1/sqrt(headDim) */
  scale?: number;
  /** 0 or omitted: all hardware threads */
  threads?: number;
  device?: 'cpu' | 'cuda';
  useMemoryPool?: boolean;
  seed?: number;
  signal?: AbortSignal;
  /** the Dilbench object (getDilbench()) whose binding computes; omitted: getDilbench() */
  dilbench?: Dilbench;
  /** advanced: another native binding instead of the Dilbench object's (tests use a fake) */
  binding?: NativeBinding;
}

const posInt = z.number().int().positive();
const optPosInt = posInt.optional();

const SPEC: Record<string, [z.ZodType, string]> = {
  implementation: [z.string().min(1), 'an implementation name (see listImplementations())'],
  q: [z.instanceof(Float32Array), 'a Float32Array of batch*heads*seqLen*headDim'],
  k: [z.instanceof(Float32Array), 'a Float32Array of batch*kvHeads*seqLen*headDim'],
  v: [z.instanceof(Float32Array), 'a Float32Array of batch*kvHeads*seqLen*headDim'],
  out: [
    z.instanceof(Float32Array).optional(),
    'omitted or a Float32Array of batch*heads*seqLen*headDim',
  ],
  copyInputs: [z.boolean().optional(), 'true or false'],
  batch: [posInt, 'an integer >= 1'],
  heads: [posInt, 'an integer >= 1'],
  kvHeads: [optPosInt, 'an integer >= 1 that divides heads'],
  seqLen: [posInt, 'an integer >= 1'],
  headDim: [posInt, 'an integer >= 1 that the implementation supports'],
  causal: [z.boolean().optional(), 'true or false'],
  scale: [z.number().finite().optional(), 'a finite number (<= 0 or omitted: 1/sqrt(headDim))'],
  threads: [z.number().int().min(0).optional(), 'an integer >= 0'],
  device: [z.enum(['cpu', 'cuda']).optional(), 'cpu, cuda'],
  useMemoryPool: [z.boolean().optional(), 'true or false'],
  seed: [z.number().int().min(0).optional(), 'an integer >= 0'],
};

const PARAM_KEYS = [
  'segmentLengths',
  'dilationRates',
  'ringSize',
  'blockPattern',
  'blockSize',
  'window',
  'stride',
  'density',
  'promptLen',
  'newTokens',
  'prefill',
] as const;

function validate(o: ComputeAttentionOptions, binding: NativeBinding): void {
  if (typeof o !== 'object' || o === null) throw new ConfigError('options', o, 'an object');
  const given: Record<string, unknown> = { ...o }; // API input: any field may hold anything
  for (const [key, [schema, allowed]] of Object.entries(SPEC)) {
    const value = given[key];
    const r = schema.safeParse(value);
    if (!r.success) throw new ConfigError(key, value, allowed, r.error.issues[0]?.message);
  }
  // implementation parameters: the native specs' bounds (the suites' flags check the same)
  for (const key of PARAM_KEYS) {
    const value = o[key];
    if (value === undefined) continue;
    const spec = paramSpec(key);
    const r = paramSchema(spec, false).safeParse(value);
    if (!r.success) throw new ConfigError(key, value, spec.allowed, r.error.issues[0]?.message);
  }
  const kvHeads = o.kvHeads ?? o.heads;
  if (o.heads % kvHeads !== 0)
    throw new ConfigError('kvHeads', kvHeads, `a divisor of heads (${o.heads})`);
  if (o.causal === false && decodesCausally(o.implementation, binding)) {
    throw new ConfigError(
      'causal',
      false,
      `true or omitted for ${o.implementation}`,
      'decoding is causal by definition: each new token attends only the tokens before it',
    );
  }
  const qLen = o.batch * o.heads * o.seqLen * o.headDim;
  const kvLen = o.batch * kvHeads * o.seqLen * o.headDim;
  if (o.q.length !== qLen)
    throw new ConfigError(
      'q',
      `Float32Array(${o.q.length})`,
      `Float32Array(${qLen}) = batch*heads*seqLen*headDim`,
      'length mismatch',
    );
  if (o.k.length !== kvLen)
    throw new ConfigError(
      'k',
      `Float32Array(${o.k.length})`,
      `Float32Array(${kvLen}) = batch*kvHeads*seqLen*headDim`,
      'length mismatch',
    );
  if (o.v.length !== kvLen)
    throw new ConfigError(
      'v',
      `Float32Array(${o.v.length})`,
      `Float32Array(${kvLen}) = batch*kvHeads*seqLen*headDim`,
      'length mismatch',
    );
  if (o.out && o.out.length !== qLen)
    throw new ConfigError(
      'out',
      `Float32Array(${o.out.length})`,
      `Float32Array(${qLen}) = batch*heads*seqLen*headDim`,
      'length mismatch',
    );
  if (o.out && o.copyInputs === false) {
    const name = (['q', 'k', 'v'] as const).find((x) => overlaps(o.out!, o[x]));
    if (name)
      throw new ConfigError(
        'out',
        `an array sharing memory with ${name}`,
        'an array apart from q, k and v when copyInputs is false',
        'the kernel reads the inputs in place while it writes the output',
      );
  }
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  return (
    a.buffer === b.buffer &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  );
}

function copyParam<K extends keyof ImplementationParams>(
  problem: NativeProblem,
  options: ImplementationParams,
  key: K,
): void {
  const value = options[key];
  if (value !== undefined) problem[key] = value;
}

/** Resolves to the output, Float32Array [batch, heads, seqLen, headDim]: `out` when given, else a new array. */
export async function computeAttention(options: ComputeAttentionOptions): Promise<Float32Array> {
  const binding = options.binding ?? (options.dilbench ?? getDilbench()).binding;
  validate(options, binding);
  const problem: NativeProblem = {
    implementation: options.implementation,
    device: options.device ?? 'cpu',
    dtype: 'fp32',
    batch: options.batch,
    heads: options.heads,
    kvHeads: options.kvHeads ?? options.heads,
    seqLen: options.seqLen,
    headDim: options.headDim,
    causal: options.causal ?? decodesCausally(options.implementation, binding),
    seed: options.seed ?? 0,
  };
  if (options.scale !== undefined) problem.scale = options.scale;
  for (const key of PARAM_KEYS) copyParam(problem, options, key);
  const sessionOptions: NativeSessionOptions = {
    threads:
      options.threads && options.threads > 0 ? options.threads : binding.info().hardwareThreads,
    useMemoryPool: options.useMemoryPool ?? true,
    usePatternCache: true,
    memoryLimitBytes: 0,
  };
  let token: NativeCancelToken | undefined;
  const onAbort = () => token?.cancel();
  const signal = options.signal;
  if (signal) {
    token = new binding.CancelToken();
    if (signal.aborted) token.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
  }
  try {
    return await binding.compute(
      problem,
      sessionOptions,
      options.q,
      options.k,
      options.v,
      token,
      options.out,
      options.copyInputs,
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
