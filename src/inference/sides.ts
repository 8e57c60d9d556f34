// --device, --dtype, --compare-dtypes and --compare-devices for the model-level commands
// (inference, scaling). What a side can run is read from the model binding, never hard-coded:
// the CPU model runs fp32; the CUDA model (modelInfo().cudaCompiled) runs fp32, fp16 and bf16
// when info().cuda reports a device. A side that cannot run is recorded as skipped with the
// binding's reason, never faked; asking only for sides that cannot run is a ConfigError.
import { ConfigError } from '../config/errors.js';
import { parseSideOptions, type DeviceChoice } from '../config/schema.js';
import type { NativeInfo } from '../native/binding.js';
import type { ModelBinding, ModelPlacement } from '../native/model-binding.js';
import { cudaAvailability, runSides, sideKey, type RunSide } from '../suite/sides.js';

/** Why cpu/fp16 and cpu/bf16 do not run (the CPU model refuses them: ERR_DILBENCH_UNSUPPORTED 'dtype'). */
export const CPU_MODEL_DTYPE_REASON =
  'the CPU model runs fp32 only (fp16/bf16 models run on a CUDA device)';
/** Why cuda sides do not run on an addon without the CUDA model. */
export const NO_CUDA_MODEL_REASON =
  'the loaded dilbench addon has no CUDA model (built without CUDA)';

/** What sides need from the binding: modelInfo(), and info() for the CUDA device count (the addon has both). */
export type ModelSideBinding = Pick<ModelBinding, 'modelInfo'> & {
  info?: () => Pick<NativeInfo, 'cuda'>;
};

export interface ModelSide extends RunSide {
  status: 'ok' | 'skipped';
  /** why a skipped side did not run (not runnable here, or how it failed at run time) */
  reason?: string;
}

export interface ModelSides {
  /** every side asked for, baseline first; those that can run have status ok */
  sides: ModelSide[];
  /** how --device was resolved, when it was 'auto' */
  deviceSelection?: { requested: DeviceChoice; device: 'cpu' | 'cuda'; reason: string };
}

/** Whether the binding can run models on CUDA, and why not (or which device). */
export function cudaModelAvailability(binding: ModelSideBinding): {
  available: boolean;
  reason: string;
} {
  if (binding.modelInfo().cudaCompiled !== true)
    return { available: false, reason: NO_CUDA_MODEL_REASON };
  let info: Pick<NativeInfo, 'cuda'>;
  try {
    if (typeof binding.info !== 'function')
      return {
        available: false,
        reason: 'the model binding reports no CUDA device information (info() is missing)',
      };
    info = binding.info();
  } catch (e) {
    return { available: false, reason: `no CUDA device: info() failed (${(e as Error).message})` };
  }
  return cudaAvailability(info);
}

/** Why `side` cannot run on this binding, or null when it can. */
export function modelSideUnavailableReason(
  side: RunSide,
  binding: ModelSideBinding,
): string | null {
  if (side.device === 'cuda') {
    const cuda = cudaModelAvailability(binding);
    return cuda.available ? null : cuda.reason;
  }
  return side.dtype === 'fp32' ? null : CPU_MODEL_DTYPE_REASON;
}

/** The placement argument of createModel for a side. */
export function placementOf(side: RunSide): ModelPlacement {
  return { device: side.device, dtype: side.dtype };
}

/** Resolves the options into sides against the binding; throws ConfigError when none of them can run. */
export function modelSides(
  raw: { device?: unknown; dtype?: unknown; compareDtypes?: unknown; compareDevices?: unknown },
  binding: ModelSideBinding,
): ModelSides {
  const o = parseSideOptions(raw);
  const cuda = cudaModelAvailability(binding);
  const device = o.device === 'auto' ? (cuda.available ? 'cuda' : 'cpu') : o.device;
  const sides: ModelSide[] = runSides(o, device).map((s) => {
    const reason = modelSideUnavailableReason(s, binding);
    return reason === null ? { ...s, status: 'ok' } : { ...s, status: 'skipped', reason };
  });
  if (!sides.some((s) => s.status === 'ok')) {
    if (device === 'cuda') throw new ConfigError('device', raw.device, 'cpu, auto', cuda.reason);
    const field = o.compareDtypes ? 'compareDtypes' : 'dtype';
    const allowed = cuda.available ? 'fp32 on cpu; fp32, fp16, bf16 with --device cuda' : 'fp32';
    throw new ConfigError(
      field,
      raw[field],
      o.compareDtypes ? `a list that includes fp32 (${allowed})` : allowed,
      CPU_MODEL_DTYPE_REASON,
    );
  }
  return {
    sides,
    ...(o.device === 'auto'
      ? { deviceSelection: { requested: 'auto' as const, device, reason: `auto: ${cuda.reason}` } }
      : {}),
  };
}

/** "cuda/fp32 skipped: ..." lines for the terminal. */
export function skippedSideLines(sides: ModelSide[]): string[] {
  return sides
    .filter((s) => s.status === 'skipped')
    .map((s) => `${sideKey(s)} skipped: ${s.reason}`);
}

/** A side-comparison ratio (suite/side-comparison.ts) as the model commands write it: 4 decimals, null when not compared. */
export function roundRatio(ratio: number | null): number | null {
  return ratio !== null && Number.isFinite(ratio) ? Math.round(ratio * 1e4) / 1e4 : null;
}
