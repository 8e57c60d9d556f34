// A fake model binding with a CUDA model (test/helpers/fake-model.ts underneath): it reports
// modelInfo().cudaCompiled and info().cuda with a chosen device count, refuses what the addon
// refuses (cuda without a device: 'device'; fp16/bf16 on the cpu: 'dtype') with the same codes,
// and its cuda models run the fake at a tenth of the time, with weights of the dtype's size.
// Knobs make a side fail (at build or run time) or change its tokens.
import type {
  GenerationResult,
  ModelBinding,
  ModelConfig,
  ModelPlacement,
  ModelRunOptions,
  ModelWeights,
  NativeModel,
} from '../../src/native/model-binding.js';
import type { NativeInfo } from '../../src/native/binding.js';
import { createFakeModelBinding, type FakeModelOptions } from '../helpers/fake-model.js';

export interface FakeCudaOptions extends FakeModelOptions {
  /** false: an addon built without CUDA (default true) */
  cudaCompiled?: boolean;
  /** CUDA devices info() reports (default 1) */
  deviceCount?: number;
  /** 'cuda/fp32' -> thrown by generate on that side (e.g. a device out of memory) */
  failGenerate?: Record<string, string>;
  /** 'cuda/bf16' -> generated tokens from this index on are shifted by one (both modes alike) */
  changeTokensFrom?: Record<string, number>;
}

export type FakeCudaBinding = ModelBinding & {
  info(): Pick<NativeInfo, 'cuda'>;
  /** 'create cuda/bf16', 'dispose cuda/bf16', in order */
  events: string[];
};

function coded(message: string, field: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_DILBENCH_UNSUPPORTED', field });
}

const DTYPE_BYTES = { fp32: 4, fp16: 2, bf16: 2 } as const;
/** cuda runs take this share of the fake's cpu time */
export const FAKE_CUDA_TIME_SCALE = 0.1;

export function createFakeCudaModelBinding(opts: FakeCudaOptions = {}): FakeCudaBinding {
  const base = createFakeModelBinding(opts);
  const compiled = opts.cudaCompiled ?? true;
  const deviceCount = opts.deviceCount ?? 1;
  const events: string[] = [];
  return {
    events,
    modelInfo: () => ({ simdLevel: 'generic', cudaCompiled: compiled }),
    info: () => ({
      cuda: {
        compiled,
        deviceCount: compiled ? deviceCount : 0,
        devices:
          compiled && deviceCount > 0
            ? [
                {
                  index: 0,
                  name: 'Fake GPU',
                  computeCapability: '9.0',
                  totalMemoryBytes: 80 * 1024 ** 3,
                  smClockMHz: 1980,
                  driverVersion: '0',
                  runtimeVersion: '0',
                },
              ]
            : [],
        ...(compiled && deviceCount === 0 ? { error: 'cudaErrorNoDevice' } : {}),
      },
    }),
    async createModel(
      config: ModelConfig,
      weights: ModelWeights,
      placement: ModelPlacement = {},
    ): Promise<NativeModel> {
      const device = placement.device ?? 'cpu';
      const dtype = placement.dtype ?? 'fp32';
      const side = `${device}/${dtype}`;
      if (device === 'cuda' && !compiled)
        throw coded("device: 'cuda' is not available for models: built without CUDA", 'device');
      if (device === 'cuda' && deviceCount === 0)
        throw coded(
          "device: 'cuda' cannot run the model: no CUDA device (cudaErrorNoDevice)",
          'device',
        );
      if (device === 'cpu' && dtype !== 'fp32')
        throw coded(`dtype: the CPU model runs fp32 only (${dtype} given)`, 'dtype');
      const inner = await base.createModel(config, weights);
      events.push(`create ${side}`);
      const scale = device === 'cuda' ? FAKE_CUDA_TIME_SCALE : 1;
      const weightBytes = inner.parameterCount * DTYPE_BYTES[dtype];
      return {
        config: inner.config,
        parameterCount: inner.parameterCount,
        weightBytes,
        device,
        dtype,
        async generate(
          prompt: Int32Array,
          n: number,
          o: ModelRunOptions,
        ): Promise<GenerationResult> {
          if (device === 'cuda' && o.implementation !== 'flash' && o.implementation !== 'naive') {
            throw coded(
              `implementation: '${o.implementation}' is not available for CUDA models (flash, naive)`,
              'implementation',
            );
          }
          const fail = opts.failGenerate?.[side];
          if (fail) throw Object.assign(new Error(fail), { code: 'ERR_DILBENCH_NATIVE' });
          const r = await inner.generate(prompt, n, o);
          const from = opts.changeTokensFrom?.[side];
          const tokens = Int32Array.from(r.tokens, (t, i) =>
            from !== undefined && i >= from ? (t + 1) % config.vocabSize : t,
          );
          const extra = weightBytes - r.memory.weightsBytes;
          return {
            tokens,
            prefillNs: r.prefillNs * scale,
            stepNs: r.stepNs.map((x) => x * scale),
            memory: {
              ...r.memory,
              weightsBytes: weightBytes,
              peakBytes: r.memory.peakBytes + extra,
            },
          };
        },
        forward: (tokens, o) => inner.forward(tokens, o),
        dispose() {
          events.push(`dispose ${side}`);
          inner.dispose();
        },
      };
    },
  };
}
