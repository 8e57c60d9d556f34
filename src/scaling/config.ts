// Scaling configs (configs/bench/infer_*_scaling.yaml): validated field by field; every error is a
// ConfigError naming the field (`<file>: context_lengths`), the value and what is allowed.
import { basename } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config/errors.js';
import { readYamlFile } from '../config/yaml-file.js';
import { MODEL_ARCHS } from '../models/config.js';
import type { ModelArch } from '../native/model-binding.js';

export interface ScalingConfig {
  name: string;
  arch: ModelArch;
  /** model preset name or YAML path */
  model: string;
  context_lengths: number[];
  /** tokens generated after the context (decoder, encoder-decoder); ignored by encoders */
  num_tokens: number;
  num_runs: number;
  warmup_runs: number;
  implementation: string;
  threads?: number;
  seed?: number;
}

const FIELDS: Record<
  keyof ScalingConfig,
  { schema: z.ZodType; allowed: string; required: boolean }
> = {
  name: {
    schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/),
    allowed: 'a name of letters, digits, _ . -',
    required: true,
  },
  arch: { schema: z.enum(MODEL_ARCHS), allowed: MODEL_ARCHS.join(', '), required: true },
  model: {
    schema: z.string().min(1),
    allowed: 'a model preset name or a YAML path',
    required: true,
  },
  context_lengths: {
    schema: z
      .array(
        z
          .number()
          .int()
          .min(1)
          .max(1 << 20),
      )
      .min(1)
      .max(64),
    allowed: 'a list of 1 to 64 integers in [1, 1048576]',
    required: true,
  },
  num_tokens: {
    schema: z.number().int().min(0).max(100_000),
    allowed: 'an integer in [0, 100000]',
    required: true,
  },
  num_runs: {
    schema: z.number().int().min(1).max(10_000),
    allowed: 'an integer in [1, 10000]',
    required: true,
  },
  warmup_runs: {
    schema: z.number().int().min(0).max(10_000),
    allowed: 'an integer in [0, 10000]',
    required: true,
  },
  implementation: {
    schema: z.string().regex(/^[a-z][a-z0-9_-]*$/),
    allowed: 'an implementation name such as flash, naive',
    required: false,
  },
  threads: {
    schema: z.number().int().min(1).max(4096),
    allowed: 'an integer in [1, 4096]',
    required: false,
  },
  seed: {
    schema: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    allowed: 'an integer in [0, 2147483647]',
    required: false,
  },
};

/** The zod schema of a scaling config (field checks; cross-field checks in validateScalingConfig). */
export const scalingConfigSchema = z
  .object(
    Object.fromEntries(
      Object.entries(FIELDS).map(([k, f]) => [k, f.required ? f.schema : f.schema.optional()]),
    ),
  )
  .strict();

export function validateScalingConfig(raw: unknown, where = 'config'): ScalingConfig {
  const field = (k: string): string => `${where}: ${k}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(
      where,
      raw,
      'a mapping with name, arch, model, context_lengths, num_tokens, num_runs, warmup_runs, implementation',
    );
  }
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!(k in FIELDS))
      throw new ConfigError(
        field(k),
        obj[k],
        `one of ${Object.keys(FIELDS).join(', ')}`,
        'unknown field',
      );
  }
  for (const [k, spec] of Object.entries(FIELDS)) {
    const v = obj[k];
    if (v === undefined) {
      if (spec.required) throw new ConfigError(field(k), v, spec.allowed, 'required');
      continue;
    }
    if (!spec.schema.safeParse(v).success) throw new ConfigError(field(k), v, spec.allowed);
  }
  const c = {
    implementation: 'flash',
    ...(scalingConfigSchema.parse(obj) as object),
  } as ScalingConfig;
  if (c.arch !== 'encoder' && c.num_tokens < 1) {
    throw new ConfigError(
      field('num_tokens'),
      c.num_tokens,
      `an integer >= 1 for arch ${c.arch} (decode steps)`,
    );
  }
  const sorted = [...c.context_lengths].sort((a, b) => a - b);
  if (new Set(sorted).size !== sorted.length)
    throw new ConfigError(field('context_lengths'), c.context_lengths, 'distinct lengths');
  c.context_lengths = sorted;
  return c;
}

export function loadScalingConfig(path: string): ScalingConfig {
  const raw = readYamlFile(path, 'config', 'a readable YAML file');
  return validateScalingConfig(raw, basename(path));
}
