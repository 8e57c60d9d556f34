// Stage 1 of runSuite: --device auto, then the sides (device, dtype) the plan runs on. `options`
// is one object for the whole run (suites key their state on it) and carries the baseline side's
// device and dtype.
import { ConfigError } from '../../config/errors.js';
import type { NativeInfo } from '../../native/binding.js';
import {
  cudaAvailability,
  resolveDevice,
  runSides,
  type CudaAvailability,
  type DeviceSelection,
  type RunSide,
} from '../sides.js';
import type { CommonRunOptions, ProgressEvent } from '../types.js';

export interface ResolvedSides<O> {
  cuda: CudaAvailability;
  selection: DeviceSelection;
  sides: RunSide[];
  /** several sides (--compare-dtypes, --compare-devices) */
  compareMode: boolean;
  /** the requested options with the baseline side's device and dtype */
  options: O;
}

/** Resolves the sides; a one-side cuda run without a usable device is a ConfigError. */
export function resolveSides<O extends CommonRunOptions>(
  requested: O,
  info: Pick<NativeInfo, 'cuda'>,
  emit: (e: ProgressEvent) => void,
): ResolvedSides<O> {
  const cuda = cudaAvailability(info);
  const selection = resolveDevice(requested.device, info);
  const sides = runSides(requested, selection.device);
  const compareMode = sides.length > 1;
  const firstSide = sides[0]!; // runSides gives one side per device x dtype, at least one
  const options = { ...requested, device: firstSide.device, dtype: firstSide.dtype } as O;
  if (!compareMode && options.device === 'cuda' && !cuda.available) {
    throw new ConfigError('device', 'cuda', 'cpu, auto', cuda.reason);
  }
  if (selection.requested === 'auto')
    emit({
      type: 'note',
      message: `--device auto chose ${selection.device}: ${selection.reason.replace(/^auto: /, '')}`,
    });
  if (compareMode && sides.some((s) => s.device === 'cuda') && !cuda.available) {
    emit({
      type: 'note',
      message: `--compare-devices: ${cuda.reason} (\`dilbench doctor\` says which build loaded and why); every cuda row is recorded as skipped with this reason`,
    });
  }
  return { cuda, selection, sides, compareMode, options };
}
