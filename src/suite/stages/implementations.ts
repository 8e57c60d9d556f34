// Stage 2 of runSuite: which implementations the run measures, and why a side cannot run one.
import { checkImplementations } from '../../config/schema.js';
import { ConfigError } from '../../config/errors.js';
import type { DTypeName, NativeBinding, NativeImplementationInfo } from '../../native/binding.js';
import { sideUnavailableReason, type CudaAvailability, type RunSide } from '../sides.js';

/** Why `side` cannot run `implementation` (a skipped row), null when it can. */
export type WhyNot = (side: RunSide, implementation: string) => string | null;

export interface ImplementationChoice {
  catalogue: NativeImplementationInfo[];
  whyNot: WhyNot;
  implementations: string[];
}

/** Implementations the device offers in `dtype` (default fp32). */
export function availableImplementations(
  binding: NativeBinding,
  device: string,
  dtype: DTypeName = 'fp32',
): NativeImplementationInfo[] {
  return binding
    .listImplementations()
    .filter((i) => i.device === device && i.dtypes.includes(dtype));
}

/** The binding's catalogue, the rule of what a side cannot run, and the implementations chosen from them. */
export function chooseRunImplementations(
  binding: NativeBinding,
  requested: string[] | undefined,
  sides: RunSide[],
  cuda: CudaAvailability,
): ImplementationChoice {
  const catalogue = binding.listImplementations();
  const whyNot: WhyNot = (side, implementation) =>
    sideUnavailableReason(side, implementation, catalogue, cuda);
  return {
    catalogue,
    whyNot,
    implementations: chooseImplementations(requested, sides, catalogue, whyNot),
  };
}

/**
 * The implementations a run measures. One side: the named ones (each must exist on the device and
 * support the dtype, else a ConfigError), or every one that runs there. Several sides: the named
 * ones (each must exist on some device), or every one that runs on at least one side; where a
 * side cannot run one, its rows are skipped with the reason.
 */
export function chooseImplementations(
  requested: string[] | undefined,
  sides: RunSide[],
  catalogue: NativeImplementationInfo[],
  whyNot: WhyNot,
): string[] {
  const namesOn = (device: string) => [
    ...new Set(catalogue.filter((i) => i.device === device).map((i) => i.name)),
  ];
  if (sides.length === 1) {
    const side = sides[0]!;
    const onDevice = namesOn(side.device);
    if (requested) {
      checkImplementations(requested, onDevice, side.device);
      for (const name of requested) {
        const why = whyNot(side, name);
        const dtypes =
          catalogue.find((i) => i.name === name && i.device === side.device)?.dtypes ?? [];
        if (why)
          throw new ConfigError(
            'dtype',
            side.dtype,
            `${dtypes.join(', ')} for ${name} on ${side.device}`,
            why,
          );
      }
      return requested;
    }
    const runnable = onDevice.filter((name) => whyNot(side, name) === null);
    if (runnable.length === 0 && onDevice.length > 0) {
      const offered = [
        ...new Set(catalogue.filter((i) => i.device === side.device).flatMap((i) => i.dtypes)),
      ];
      throw new ConfigError(
        'dtype',
        side.dtype,
        `${offered.join(', ')} on ${side.device}`,
        `no implementation supports ${side.dtype} on ${side.device}`,
      );
    }
    return runnable;
  }
  const everywhere = [...new Set(sides.flatMap((s) => namesOn(s.device)))];
  if (requested) {
    checkImplementations(
      requested,
      everywhere,
      [...new Set(sides.map((s) => s.device))].join(' or '),
    );
    return requested;
  }
  const runnable = everywhere.filter((name) => sides.some((s) => whyNot(s, name) === null));
  return runnable.length ? runnable : everywhere;
}
