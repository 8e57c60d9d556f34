// CLI flags -> SamplingOptions, with errors that name the flag (ConfigError: exit 2 in the CLI).
import { ConfigError } from '../config/errors.js';
import type { SamplingOptions } from './types.js';

export interface SamplingFlags {
  /** 'adaptive' or a count */
  warmup?: string | number;
  /** fixed sample count (turns the adaptive stopping rule off) */
  runs?: string | number;
  minSamples?: string | number;
  maxSamples?: string | number;
  /** fraction (0.01) or percent ('1%') */
  targetRse?: string | number;
  /** seconds per point */
  maxTime?: string | number;
  cold?: boolean;
  seed?: string | number;
}

function int(field: string, raw: string | number, min: number): number {
  const v = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(v) || v < min) throw new ConfigError(field, raw, `an integer >= ${min}`);
  return v;
}

/** Validates sampling flags; leaves unset ones to the scheduler's defaults. */
export function samplingOptionsFromFlags(flags: SamplingFlags): SamplingOptions {
  const o: SamplingOptions = {};
  if (flags.warmup !== undefined) {
    if (String(flags.warmup).trim() === 'adaptive') o.warmup = 'adaptive';
    else {
      const v = Number(String(flags.warmup).trim());
      if (!Number.isInteger(v) || v < 0)
        throw new ConfigError('warmup', flags.warmup, "'adaptive' or an integer >= 0");
      o.warmup = v;
    }
  }
  if (flags.runs !== undefined) o.runs = int('runs', flags.runs, 1);
  if (flags.minSamples !== undefined) o.minSamples = int('minSamples', flags.minSamples, 1);
  if (flags.maxSamples !== undefined) o.maxSamples = int('maxSamples', flags.maxSamples, 1);
  if (o.minSamples !== undefined && o.maxSamples !== undefined && o.maxSamples < o.minSamples) {
    throw new ConfigError(
      'maxSamples',
      flags.maxSamples,
      `an integer >= --min-samples (${o.minSamples})`,
    );
  }
  if (flags.targetRse !== undefined) {
    const s = String(flags.targetRse).trim();
    const v = s.endsWith('%') ? Number(s.slice(0, -1)) / 100 : Number(s);
    if (!Number.isFinite(v) || v <= 0 || v >= 1)
      throw new ConfigError(
        'targetRse',
        flags.targetRse,
        'a fraction in (0, 1) or a percent, e.g. 0.01 or 1%',
      );
    o.targetRse = v;
  }
  if (flags.maxTime !== undefined) {
    const v = Number(String(flags.maxTime).trim());
    if (!Number.isFinite(v) || v <= 0)
      throw new ConfigError('maxTime', flags.maxTime, 'seconds > 0');
    o.maxTimeSeconds = v;
  }
  if (flags.cold !== undefined) o.cold = flags.cold;
  if (flags.seed !== undefined) o.seed = int('seed', flags.seed, 0);
  return o;
}
