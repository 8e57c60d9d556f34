// One interface for every framework dilbench compares itself with: setup time, a sampler for the
// shared measurement engine (its first call is the cold start), the output as [B, H, S, D] fp32,
// and the peak memory where it can be known.
import type { Sampler } from '../measure/types.js';

export const FRAMEWORK_NAMES = [
  'dilbench',
  'onnxruntime-mha',
  'onnxruntime-matmul',
  'pytorch',
] as const;
export type FrameworkName = (typeof FRAMEWORK_NAMES)[number];
export const FRAMEWORK_DTYPES = ['fp32', 'fp16', 'bf16'] as const;
export type FrameworkDtype = (typeof FRAMEWORK_DTYPES)[number];

/** The attention problem every framework runs (inputs [B, H, S, D] fp32, same seed). */
export interface FrameworkSpec {
  batch: number;
  heads: number;
  seqLen: number;
  headDim: number;
  causal: boolean;
  threads: number;
  /** dilbench implementation (default flash) */
  implementation: string;
  /** storage precision: fp32, or fp16/bf16 (inputs rounded to nearest even from the same fp32 values) */
  dtype: FrameworkDtype;
  seed: number;
  /** dilated / dilated-grouped pairs (attention-definitions.md); omitted: dilbench's defaults by length */
  segmentLengths?: number[];
  dilationRates?: number[];
}

export interface FrameworkInputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

export interface PeakMemory {
  bytes: number;
  /** 'pool-exact': dilbench's memory pool high-water mark; 'rss-delta': process RSS growth */
  kind: 'pool-exact' | 'rss-delta';
  note: string;
}

export interface FrameworkAdapter {
  readonly name: FrameworkName;
  /** the framework's own version string (e.g. onnxruntime-node 1.30.0) */
  readonly version: string;
  /** what exactly runs (operator, graph, kernel) */
  readonly description: string;
  /** wall time of setup: session / graph creation, model load, subprocess start, ms */
  readonly setupMs: number;
  /** how iterations are timed (inside native code, around an async call, in a subprocess) */
  readonly timing: string;
  /** sample(n): n timed iterations, ns each; the first call of all is the cold start */
  readonly sampler: Sampler;
  /** the output of one more call, [B, H, S, D] */
  output(): Promise<Float32Array>;
  peakMemory(): PeakMemory | null;
  dispose(): Promise<void>;
}

/** A framework that could not run here, with the reason (printed, recorded in results). */
export interface FrameworkSkip {
  name: FrameworkName;
  skipped: true;
  reason: string;
}

export function isSkip(x: FrameworkAdapter | FrameworkSkip): x is FrameworkSkip {
  return (x as FrameworkSkip).skipped === true;
}

/** FLOPs of one attention forward (same count as the native planner: 4 B H S S D, halved causal). */
export function attentionFlops(
  s: Pick<FrameworkSpec, 'batch' | 'heads' | 'seqLen' | 'headDim' | 'causal'>,
): number {
  const full = 4 * s.batch * s.heads * s.seqLen * s.seqLen * s.headDim;
  return s.causal ? full / 2 : full;
}

/** Process max RSS in bytes (peak, as the kernel accounts it). */
export function maxRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
