// The "sides" of a run: the (device, dtype) pairs the same plan runs on. One side normally;
// --compare-dtypes and --compare-devices give several, run in one invocation and compared
// (side-comparison.ts). Also where `--device auto` is resolved. What a side cannot run is
// decided here from what the binding reports (listImplementations, info().cuda), never from a
// hard-coded list, and becomes a skipped row with the reason.
import type { DTypeChoice, DeviceChoice } from '../config/schema.js';
import type {
  DeviceName,
  DTypeName,
  NativeImplementationInfo,
  NativeInfo,
} from '../native/binding.js';
import type { RunSide } from '../results/types.js';
export type { RunSide };

/** How --device was resolved: what was asked, what runs, and why. */
export interface DeviceSelection {
  requested: DeviceChoice;
  device: DeviceName;
  reason: string;
}

// described once, where the Dilbench object reports it
export { cudaAvailability, type CudaAvailability } from '../native/dilbench.js';
import { cudaAvailability, type CudaAvailability } from '../native/dilbench.js';

/** `auto`: cuda when the binding reports a device, else cpu; cpu and cuda are taken as asked. */
export function resolveDevice(
  requested: DeviceChoice,
  info: Pick<NativeInfo, 'cuda'>,
): DeviceSelection {
  if (requested !== 'auto')
    return { requested, device: requested, reason: `--device ${requested}` };
  const cuda = cudaAvailability(info);
  return cuda.available
    ? { requested, device: 'cuda', reason: `auto: ${cuda.reason}` }
    : { requested, device: 'cpu', reason: `auto: ${cuda.reason}` };
}

/**
 * The sides of a run, baseline first: devices (cpu then cuda with compareDevices) x dtypes (in
 * the order of compareDtypes).
 */
export function runSides(
  o: { dtype?: DTypeChoice; compareDtypes?: DTypeChoice[]; compareDevices?: boolean },
  device: DeviceName,
): RunSide[] {
  const devices: DeviceName[] = o.compareDevices ? ['cpu', 'cuda'] : [device];
  const dtypes: DTypeName[] = o.compareDtypes?.length ? o.compareDtypes : [o.dtype ?? 'fp32'];
  return devices.flatMap((d) => dtypes.map((t) => ({ device: d, dtype: t })));
}

export function sideKey(s: RunSide): string {
  return `${s.device}/${s.dtype}`;
}

/** sideKey of a stored record or point; those written before sides carry none and ran on cpu/fp32. */
export function storedSideKey(r: { device?: string; dtype?: string }): string {
  return `${r.device ?? 'cpu'}/${r.dtype ?? 'fp32'}`;
}

export function sameSide(a: RunSide, b: RunSide): boolean {
  return a.device === b.device && a.dtype === b.dtype;
}

/**
 * Why `implementation` cannot run on `side`, or null when it can: no CUDA device, not built for
 * the device, or the dtype is not one the binding lists for it there.
 */
export function sideUnavailableReason(
  side: RunSide,
  implementation: string,
  implementations: readonly NativeImplementationInfo[],
  cuda: CudaAvailability,
): string | null {
  if (side.device === 'cuda' && !cuda.available) return cuda.reason;
  const info = implementations.find((i) => i.name === implementation && i.device === side.device);
  if (!info) {
    const elsewhere = [
      ...new Set(implementations.filter((i) => i.name === implementation).map((i) => i.device)),
    ];
    return `${implementation} is not available on ${side.device} in this build${elsewhere.length ? ` (available on: ${elsewhere.join(', ')})` : ''}`;
  }
  if (!info.dtypes.includes(side.dtype)) {
    return `${implementation} does not support ${side.dtype} on ${side.device} (supported: ${info.dtypes.join(', ') || 'none'})`;
  }
  return null;
}
