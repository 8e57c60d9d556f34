// The typed interface of the native transformer models (issue 7): synthetic models with real
// shapes and seeded weights, or GPT-2-family weights from a safetensors file. Implemented by
// bindings/model_*.cpp over native/model/ (pure C++); a fake can stand in for unit tests.
import type { NativeCancelToken, SimdLevelName } from './binding.js';

export type ModelArch = 'decoder' | 'encoder' | 'encoder-decoder';

/** One model's shape. Presets live in configs/models/<name>.yaml (validated with zod). */
export interface ModelConfig {
  name: string;
  arch: ModelArch;
  vocabSize: number;
  maxPositions: number;
  hidden: number;
  /** decoder layers for 'decoder', encoder layers for 'encoder'/'encoder-decoder' */
  layers: number;
  /** decoder layers of an encoder-decoder model */
  decoderLayers?: number;
  heads: number;
  kvHeads: number;
  /** hidden / heads unless given */
  headDim?: number;
  intermediate: number;
  norm: 'layernorm' | 'rmsnorm';
  activation: 'gelu' | 'relu' | 'swiglu';
  positional: 'learned' | 'rope' | 'none';
  tiedEmbeddings: boolean;
  normEps?: number;
  ropeTheta?: number;
}

/** Weights: seeded N(0, 0.02) synthetic ones, or named fp32 tensors (GPT-2 safetensors names). */
export type ModelWeights =
  { seed: number } | { tensors: Record<string, { shape: number[]; data: Float32Array }> };

export type ModelDevice = 'cpu' | 'cuda';
export type ModelDType = 'fp32' | 'fp16' | 'bf16';

/**
 * Where a model lives (createModel's third argument). The CPU model runs fp32 only (fp16/bf16
 * there reject with ERR_DILBENCH_UNSUPPORTED, field 'dtype'); 'cuda' needs an addon built with
 * CUDA and a device, else ERR_DILBENCH_UNSUPPORTED, field 'device', saying which is missing.
 * On CUDA, ModelRunOptions.implementation is 'flash' or 'naive' and threads is ignored.
 */
export interface ModelPlacement {
  /** default 'cpu' */
  device?: ModelDevice;
  /** default 'fp32': weights, KV cache and attention in this type; norms, softmax, residual and accumulation fp32 */
  dtype?: ModelDType;
}

export interface ModelRunOptions {
  /** attention implementation used inside the model: 'flash' | 'naive' | ... */
  implementation: string;
  threads: number;
  /** true: KV cache; false: recompute the whole prefix each step */
  useCache: boolean;
}

export interface ModelMemory {
  weightsBytes: number;
  kvCacheBytes: number;
  workspaceBytes: number;
  peakBytes: number;
}

export interface GenerationResult {
  /** greedy tokens generated after the prompt */
  tokens: Int32Array;
  /** ns of the prefill (prompt forward + first token) */
  prefillNs: number;
  /** ns of each later decode step */
  stepNs: Float64Array;
  /**
   * Allocations from the model's memory pool during each later decode step, one per stepNs
   * entry (0 in steady-state KV-cache decode). Empty on a device model; absent from fakes and
   * older bindings.
   */
  stepPoolAllocations?: Float64Array;
  memory: ModelMemory;
}

export interface NativeModel {
  readonly config: ModelConfig;
  readonly parameterCount: number;
  readonly weightBytes: number;
  /** where it runs (undefined from bindings that predate placements: 'cpu' / 'fp32') */
  readonly device?: ModelDevice;
  readonly dtype?: ModelDType;
  /** Greedy generation of newTokens tokens after prompt (decoder; encoder-decoder: prompt is the encoder input). */
  generate(
    prompt: Int32Array,
    newTokens: number,
    options: ModelRunOptions,
    cancel?: NativeCancelToken,
  ): Promise<GenerationResult>;
  /** One forward pass: logits [tokens.length, vocabSize] (decoder) or hidden states [n, hidden] (encoder). */
  forward(
    tokens: Int32Array,
    options: Omit<ModelRunOptions, 'useCache'>,
    cancel?: NativeCancelToken,
  ): Promise<Float32Array>;
  dispose(): void;
}

export interface ModelBinding {
  /** Validates config and weights (errors name the field or the tensor) and builds the model off the event loop. */
  createModel(
    config: ModelConfig,
    weights: ModelWeights,
    placement?: ModelPlacement,
  ): Promise<NativeModel>;
  /** cudaCompiled: the addon carries the CUDA model (a device may still be missing: info().cuda.deviceCount) */
  modelInfo(): { simdLevel: SimdLevelName; cudaCompiled?: boolean };
}
