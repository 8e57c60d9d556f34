// Option parsing shared by the issue-3 suites: the suite's own fields (zod, one at a time so errors
// name the field) are taken out, the rest goes through the common schema with the suite's lengths.
import { z } from 'zod';
import { toNumber } from '../config/coerce.js';

export { toNumber };
import { ConfigError } from '../config/errors.js';
import { parseSequenceRangesOptions, type SequenceRangesOptions } from '../config/schema.js';
import { parseLength } from '../config/units.js';

export interface OwnField {
  schema: z.ZodType;
  allowed: string;
}

/** "1K,4K" | ["1K", 4096] -> numbers (K = 1024, M = 1048576; plain exponents like 1e9 too) */
export function lengthList(max: number): z.ZodType {
  return z.preprocess(
    (v) => {
      const items = typeof v === 'string' || typeof v === 'number' ? [v] : v;
      if (!Array.isArray(items)) return v;
      const out: unknown[] = [];
      for (const it of items) {
        if (typeof it === 'string')
          for (const s of it.split(/[\s,]+/).filter(Boolean))
            out.push(/e/i.test(s) ? Number(s) : parseLength(s));
        else out.push(it);
      }
      return out;
    },
    z.array(z.number().int().min(1).max(max)).min(1),
  );
}

export function parseFamilyOptions<E extends Record<string, unknown>>(
  raw: Record<string, unknown>,
  own: Record<string, OwnField>,
  lengths: (ownValues: Record<string, unknown>) => number[],
  defaults: Record<string, unknown> = {},
): SequenceRangesOptions & E {
  const rest: Record<string, unknown> = { ...defaults };
  const ownValues: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const field = own[k];
    if (field) {
      const r = field.schema.safeParse(v);
      if (!r.success) throw new ConfigError(k, v, field.allowed, r.error.issues[0]?.message);
      ownValues[k] = r.data;
    } else if (k === 'range' || k === 'customLengths') {
      throw new ConfigError(
        k,
        v,
        'not an option of this suite (its lengths are its own)',
        'unknown option',
      );
    } else {
      rest[k] = v;
    }
  }
  const base = parseSequenceRangesOptions(
    { ...rest, range: 'custom', customLengths: [1] },
    { strict: true },
  );
  const ls = lengths(ownValues);
  return {
    ...base,
    range: 'custom',
    lengths: ls,
    customLengths: undefined,
    ...ownValues,
  } as SequenceRangesOptions & E;
}
