// Sequence-length ranges, loaded from configs/ranges.yaml.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { configPath } from './paths.js';
import { parseLength } from './units.js';

export interface RangeDefinition {
  name: string;
  description: string;
  lengths: number[];
  /** the customary name of each length ("49K" for 49152) */
  labels: string[];
}

export type RangeTable = Record<string, RangeDefinition>;

const lengthSchema = z
  .union([
    z.number(),
    z.string(),
    z.object({ label: z.union([z.string(), z.number()]), tokens: z.number() }),
  ])
  .transform((v, ctx) => {
    const n = typeof v === 'object' ? v.tokens : parseLength(v);
    if (!Number.isInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: `not a sequence length: ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return { tokens: n, label: typeof v === 'object' ? String(v.label) : String(v) };
  });

const fileSchema = z.object({
  ranges: z.record(
    z.string().regex(/^[a-z][a-z0-9-]*$/),
    z.object({ description: z.string().default(''), lengths: z.array(lengthSchema).min(1) }),
  ),
});

/** Names that are not ranges in the file but still accepted by --range. */
export const SPECIAL_RANGES = ['all', 'custom'] as const;

let cache: { path: string; table: RangeTable } | undefined;

export function loadRanges(path = configPath('ranges.yaml')): RangeTable {
  if (cache && cache.path === path) return cache.table;
  const raw = parse(readFileSync(path, 'utf8')) as unknown;
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`dilbench: ${path} is not a valid ranges file: ${parsed.error.message}`);
  }
  const table: RangeTable = {};
  for (const [name, def] of Object.entries(parsed.data.ranges)) {
    if ((SPECIAL_RANGES as readonly string[]).includes(name)) {
      throw new Error(`dilbench: ${path}: range name "${name}" is reserved`);
    }
    table[name] = {
      name,
      description: def.description,
      lengths: def.lengths.map((l) => l.tokens),
      labels: def.lengths.map((l) => l.label),
    };
  }
  cache = { path, table };
  return table;
}

export function rangeNames(table: RangeTable = loadRanges()): string[] {
  return [...Object.keys(table), ...SPECIAL_RANGES];
}

/** Lengths of a named range; `all` is the sorted union. `custom` is resolved by the caller. */
export function expandRange(name: string, table: RangeTable = loadRanges()): number[] {
  if (name === 'all') {
    const all = new Set<number>();
    for (const def of Object.values(table)) for (const n of def.lengths) all.add(n);
    return [...all].sort((a, b) => a - b);
  }
  const def = table[name];
  if (!def) throw new Error(`unknown range ${name}`);
  return [...def.lengths];
}

/** Customary label of a length ("49K" for 49152), from the ranges file; undefined if none. */
export function nominalLabel(tokens: number, table?: RangeTable): string | undefined {
  let t = table;
  if (!t) {
    try {
      t = loadRanges();
    } catch {
      return undefined;
    }
  }
  for (const def of Object.values(t)) {
    const i = def.lengths.indexOf(tokens);
    if (i >= 0) return def.labels[i];
  }
  return undefined;
}
