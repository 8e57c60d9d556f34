// A fake ModelBinding (src/native/model-binding.ts): deterministic greedy "generation" computed in
// TypeScript from the whole prefix, so the cached and recompute modes give the same tokens;
// times and memory come from formulas (recompute is quadratic in length, the cache linear).
import type {
  GenerationResult,
  ModelBinding,
  ModelConfig,
  ModelRunOptions,
  ModelWeights,
  NativeModel,
} from '../../src/native/model-binding.js';
import { parameterCount, validateModelConfig } from '../../src/models/config.js';

/** One generate or forward call the fake saw. */
export interface FakeModelCall {
  kind: 'generate' | 'forward';
  promptLength: number;
  newTokens: number;
  useCache?: boolean;
}

export interface FakeModelOptions {
  /** make the two modes disagree at this generated index (to test the identical-token check) */
  divergeAt?: number;
  /** ns per (token x layer x hidden) of work */
  nsPerUnit?: number;
  /** calls seen, for assertions */
  calls?: FakeModelCall[];
  /** called at the start of every generate, before the call is recorded (to abort mid-run) */
  beforeGenerate?: () => void;
}

/** The fake's next token: a hash of the whole prefix (so recomputing gives the same answer). */
export function fakeNextToken(prefix: ArrayLike<number>, vocab: number, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < prefix.length; i++)
    h = Math.imul(h ^ ((prefix[i] as number) + i), 16777619) >>> 0;
  return h % vocab;
}

class FakeModel implements NativeModel {
  readonly parameterCount: number;
  readonly weightBytes: number;
  private disposed = false;
  constructor(
    readonly config: ModelConfig,
    private readonly seed: number,
    private readonly opts: FakeModelOptions,
  ) {
    this.parameterCount = parameterCount(config);
    this.weightBytes = this.parameterCount * 4;
  }

  private unit(): number {
    return (
      (this.opts.nsPerUnit ?? 2) *
      this.config.hidden *
      (this.config.layers + (this.config.decoderLayers ?? 0))
    );
  }

  async generate(
    prompt: Int32Array,
    newTokens: number,
    options: ModelRunOptions,
  ): Promise<GenerationResult> {
    this.opts.beforeGenerate?.();
    if (this.disposed) throw new Error('model disposed');
    const c = this.config;
    if (prompt.length < 1) throw new Error('empty prompt');
    const decoderPrefix = c.arch === 'encoder-decoder' ? 1 : prompt.length;
    if (
      c.positional === 'learned' &&
      c.arch === 'decoder' &&
      prompt.length + newTokens > c.maxPositions
    ) {
      throw new Error(`sequence ${prompt.length + newTokens} > maxPositions ${c.maxPositions}`);
    }
    this.opts.calls?.push({
      kind: 'generate',
      promptLength: prompt.length,
      newTokens,
      useCache: options.useCache,
    });
    const seq = Array.from(prompt);
    const tokens = new Int32Array(newTokens);
    for (let i = 0; i < newTokens; i++) {
      let t = fakeNextToken(seq, c.vocabSize, this.seed);
      if (!options.useCache && this.opts.divergeAt === i) t = (t + 1) % c.vocabSize;
      tokens[i] = t;
      seq.push(t);
    }
    await Promise.resolve();
    const u = this.unit();
    const prefillNs = u * prompt.length * (1 + prompt.length / 256) + 1000;
    const stepNs = new Float64Array(Math.max(0, newTokens - 1));
    for (let i = 0; i < stepNs.length; i++) {
      const len = decoderPrefix + i + 1;
      stepNs[i] = options.useCache ? u * (1 + len / 256) + 500 : u * len * (1 + len / 256) + 500;
    }
    const hd = c.headDim ?? c.hidden / c.heads;
    const total = decoderPrefix + newTokens;
    const kvLayers = c.arch === 'encoder-decoder' ? (c.decoderLayers ?? 0) : c.layers;
    const kvCacheBytes = options.useCache ? 2 * kvLayers * c.kvHeads * hd * total * 4 : 0;
    const workspaceBytes =
      (options.useCache ? 1 : total) * (c.hidden * 4 + c.intermediate + c.vocabSize) * 4 +
      c.heads * total * 4;
    return {
      tokens,
      prefillNs,
      stepNs,
      memory: {
        weightsBytes: this.weightBytes,
        kvCacheBytes,
        workspaceBytes,
        peakBytes: this.weightBytes + kvCacheBytes + workspaceBytes,
      },
    };
  }

  async forward(
    tokens: Int32Array,
    _options: Omit<ModelRunOptions, 'useCache'>,
  ): Promise<Float32Array> {
    if (this.disposed) throw new Error('model disposed');
    this.opts.calls?.push({ kind: 'forward', promptLength: tokens.length, newTokens: 0 });
    const c = this.config;
    const width = c.arch === 'encoder' ? c.hidden : c.vocabSize;
    const out = new Float32Array(tokens.length * width);
    for (let i = 0; i < out.length; i++) out[i] = Math.sin(i + this.seed);
    await Promise.resolve();
    return out;
  }

  dispose(): void {
    this.disposed = true;
  }
}

/** A fake ModelBinding; createModel validates the config like the native side (errors name the field). */
export function createFakeModelBinding(opts: FakeModelOptions = {}): ModelBinding {
  return {
    async createModel(config: ModelConfig, weights: ModelWeights): Promise<NativeModel> {
      const c = validateModelConfig(config);
      const seed = 'seed' in weights ? weights.seed : 7;
      return new FakeModel(c, seed, opts);
    },
    modelInfo: () => ({ simdLevel: 'generic' }),
  };
}
