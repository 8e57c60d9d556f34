// --device, --dtype, --compare-dtypes and --compare-devices for the model-level commands
// (inference, scaling). The transformer model core runs fp32 on the CPU only (there are no CUDA
// or half-precision models yet): that side runs; every other side asked for is recorded as
// skipped with the reason, never faked. Asking only for sides that cannot run is a ConfigError.
import { ConfigError } from '../config/errors.js';
import { parseSideOptions, type DeviceChoice } from '../config/schema.js';
import { runSides, type RunSide } from '../suite/sides.js';

export const MODEL_DEVICE_REASON = 'the transformer model core runs on the CPU only (there are no CUDA models yet)';
export const MODEL_DTYPE_REASON = 'the transformer model core runs fp32 only (fp16/bf16 models need a CUDA model core, which does not exist yet)';

export interface ModelSide extends RunSide {
  status: 'ok' | 'skipped';
  /** why a skipped side did not run */
  reason?: string;
}

export interface ModelSides {
  /** every side asked for, in order; the one that runs has status ok */
  sides: ModelSide[];
  /** how --device was resolved, when it was 'auto' */
  deviceSelection?: { requested: DeviceChoice; device: 'cpu'; reason: string };
}

/** Resolves the options into sides; throws ConfigError when none of them can run. */
export function modelSides(raw: { device?: unknown; dtype?: unknown; compareDtypes?: unknown; compareDevices?: unknown }): ModelSides {
  const o = parseSideOptions(raw as Record<string, unknown>);
  const device = o.device === 'auto' ? 'cpu' : o.device;
  const sides: ModelSide[] = runSides(o, device).map((s) => {
    if (s.device !== 'cpu') return { ...s, status: 'skipped', reason: MODEL_DEVICE_REASON };
    if (s.dtype !== 'fp32') return { ...s, status: 'skipped', reason: MODEL_DTYPE_REASON };
    return { ...s, status: 'ok' };
  });
  if (!sides.some((s) => s.status === 'ok')) {
    if (device !== 'cpu') throw new ConfigError('device', raw.device, 'cpu, auto', MODEL_DEVICE_REASON);
    const field = o.compareDtypes ? 'compareDtypes' : 'dtype';
    throw new ConfigError(field, raw[field], o.compareDtypes ? 'a list that includes fp32' : 'fp32', MODEL_DTYPE_REASON);
  }
  return {
    sides,
    ...(o.device === 'auto' ? { deviceSelection: { requested: 'auto' as const, device: 'cpu' as const, reason: `auto: ${MODEL_DEVICE_REASON}` } } : {}),
  };
}

/** "cuda/fp32 skipped: ..." lines for the terminal. */
export function skippedSideLines(sides: ModelSide[]): string[] {
  return sides.filter((s) => s.status === 'skipped').map((s) => `${s.device}/${s.dtype} skipped: ${s.reason}`);
}
