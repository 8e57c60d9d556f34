// The `extreme` suite: 16K up to 1M tokens (powers of two; beyond with --max-length) for the
// implementations whose memory allows it. The planner sizes every point before anything is
// allocated and skips the ones over the memory budget (or over --max-run-seconds) with its reason.
import { z } from 'zod';
import { ConfigError } from '../config/errors.js';
import { implParamsConfig } from '../config/impl-params.js';
import type { SequenceRangesOptions } from '../config/schema.js';
import { MAX_SEQ_LEN } from '../config/schema.js';
import { parseLength } from '../config/units.js';
import { parseFamilyOptions } from '../suite/family-options.js';
import { ringProjectionHook } from '../suite/ring-projection.js';
import { gridPoints } from '../suite/problem.js';
import type { SuiteDefinition, SuitePoint } from '../suite/types.js';

export const EXTREME_MIN = 16 * 1024;
export const EXTREME_DEFAULT_MAX = 1024 * 1024;

export interface ExtremeOptions extends SequenceRangesOptions {
  minLength?: number;
  maxLength?: number;
}

export function extremeLengths(min: number, max: number): number[] {
  const out: number[] = [];
  for (let n = min; n <= max; n *= 2) out.push(n);
  if (out[out.length - 1] !== max && max > min) out.push(max);
  return out.length ? out : [max];
}

const length = z.preprocess(
  (v) => (typeof v === 'string' ? parseLength(v) : v),
  z.number().int().min(1).max(MAX_SEQ_LEN),
);

export const extreme: SuiteDefinition<ExtremeOptions> = {
  name: 'extreme',
  description:
    '16K to 1M tokens (beyond with --max-length) for the implementations whose memory allows; the rest skipped with the reason before allocating',
  parseOptions: (raw) =>
    parseFamilyOptions<{ minLength?: number; maxLength?: number }>(
      raw,
      {
        minLength: {
          schema: length,
          allowed: `a length 1..${MAX_SEQ_LEN} (K = 1024, M = 1048576)`,
        },
        maxLength: {
          schema: length,
          allowed: `a length 1..${MAX_SEQ_LEN} (K = 1024, M = 1048576), >= --min-length`,
        },
      },
      (own) => {
        const min = (own.minLength as number | undefined) ?? EXTREME_MIN;
        const max = (own.maxLength as number | undefined) ?? Math.max(EXTREME_DEFAULT_MAX, min);
        if (max < min)
          throw new ConfigError('maxLength', max, `a length >= --min-length (${min})`, 'max < min');
        return extremeLengths(min, max);
      },
      { runs: 1, warmup: 0 },
    ),
  points(o, ctx): SuitePoint[] {
    return gridPoints(o, ctx);
  },
  config(o) {
    return {
      lengths: o.lengths,
      batchSize: o.batchSize,
      heads: o.heads,
      kvHeads: o.kvHeads,
      headDim: o.headDim,
      causal: o.causal,
      ...implParamsConfig(o),
    };
  },
  afterMeasure: ringProjectionHook,
};

export default extreme;
