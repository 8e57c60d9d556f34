// Model shapes (issue 7): the zod schema of ModelConfig (src/native/model-binding.ts), presets in
// configs/models/<name>.yaml and user YAML files. Every error is a ConfigError naming the field,
// the value and what is allowed (the CLI exits 2 on it).
import { existsSync, readdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config/errors.js';
import { readYamlFile } from '../config/yaml-file.js';
import { configPath } from '../config/paths.js';
import type { ModelConfig } from '../native/model-binding.js';

export const MODEL_ARCHS = ['decoder', 'encoder', 'encoder-decoder'] as const;

const posInt = (max: number) => z.number().int().min(1).max(max);

interface FieldSpec {
  schema: z.ZodType;
  allowed: string;
  required: boolean;
}

const FIELDS: Record<keyof ModelConfig, FieldSpec> = {
  name: { schema: z.string().min(1).max(200), allowed: 'a non-empty string', required: true },
  arch: { schema: z.enum(MODEL_ARCHS), allowed: MODEL_ARCHS.join(', '), required: true },
  vocabSize: { schema: posInt(10_000_000), allowed: 'an integer in [1, 10000000]', required: true },
  maxPositions: { schema: posInt(1 << 24), allowed: 'an integer in [1, 16777216]', required: true },
  hidden: { schema: posInt(1 << 16), allowed: 'an integer in [1, 65536]', required: true },
  layers: { schema: posInt(1024), allowed: 'an integer in [1, 1024]', required: true },
  decoderLayers: { schema: posInt(1024), allowed: 'an integer in [1, 1024]', required: false },
  heads: { schema: posInt(4096), allowed: 'an integer in [1, 4096]', required: true },
  kvHeads: {
    schema: posInt(4096),
    allowed: 'an integer in [1, 4096] dividing heads',
    required: true,
  },
  headDim: { schema: posInt(4096), allowed: 'an integer in [1, 4096]', required: false },
  intermediate: { schema: posInt(1 << 20), allowed: 'an integer in [1, 1048576]', required: true },
  norm: { schema: z.enum(['layernorm', 'rmsnorm']), allowed: 'layernorm, rmsnorm', required: true },
  activation: {
    schema: z.enum(['gelu', 'relu', 'swiglu']),
    allowed: 'gelu, relu, swiglu',
    required: true,
  },
  positional: {
    schema: z.enum(['learned', 'rope', 'none']),
    allowed: 'learned, rope, none',
    required: true,
  },
  tiedEmbeddings: { schema: z.boolean(), allowed: 'true or false', required: true },
  normEps: { schema: z.number().positive().max(1), allowed: 'a number in (0, 1]', required: false },
  ropeTheta: { schema: z.number().positive().finite(), allowed: 'a number > 0', required: false },
};

/** The zod schema of a ModelConfig (field-level checks; cross-field checks are in validateModelConfig). */
export const modelConfigSchema = z
  .object(
    Object.fromEntries(
      Object.entries(FIELDS).map(([k, f]) => [k, f.required ? f.schema : f.schema.optional()]),
    ),
  )
  .strict();

/**
 * Validates a parsed YAML/JSON object as a ModelConfig; throws a ConfigError naming the first bad
 * field (`model.<field>` with `where` = the file when given).
 */
export function validateModelConfig(raw: unknown, where = 'model'): ModelConfig {
  const field = (k: string): string => `${where}.${k}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(
      where,
      raw,
      'a mapping of ModelConfig fields (name, arch, vocabSize, ...)',
    );
  }
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!(k in FIELDS))
      throw new ConfigError(
        field(k),
        obj[k],
        `one of the fields ${Object.keys(FIELDS).join(', ')}`,
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
  // every field was checked against FIELDS above; the schema, built from FIELDS at run time, is
  // typed as a plain record, so the cast names the type those checks established
  const c = modelConfigSchema.parse(obj) as unknown as ModelConfig;
  if (c.heads % c.kvHeads !== 0) {
    throw new ConfigError(field('kvHeads'), c.kvHeads, `a divisor of heads (${c.heads})`);
  }
  if (c.headDim === undefined && c.hidden % c.heads !== 0) {
    throw new ConfigError(
      field('heads'),
      c.heads,
      `a divisor of hidden (${c.hidden}), or give headDim`,
    );
  }
  if (c.arch === 'encoder-decoder' && c.decoderLayers === undefined) {
    throw new ConfigError(
      field('decoderLayers'),
      undefined,
      'an integer in [1, 1024] (required for encoder-decoder)',
    );
  }
  if (c.arch !== 'encoder-decoder' && c.decoderLayers !== undefined) {
    throw new ConfigError(
      field('decoderLayers'),
      c.decoderLayers,
      '(absent) unless arch is encoder-decoder',
    );
  }
  if (c.positional === 'rope' && (c.headDim ?? c.hidden / c.heads) % 2 !== 0) {
    throw new ConfigError(
      field('headDim'),
      c.headDim ?? c.hidden / c.heads,
      'an even head dimension with rope',
    );
  }
  if (c.ropeTheta !== undefined && c.positional !== 'rope') {
    throw new ConfigError(field('ropeTheta'), c.ropeTheta, '(absent) unless positional is rope');
  }
  return c;
}

export function headDimOf(c: ModelConfig): number {
  return c.headDim ?? c.hidden / c.heads;
}

/** Names of the presets in configs/models/. */
export function modelPresetNames(): string[] {
  const dir = configPath('models');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => basename(f, extname(f)))
    .sort();
}

/** Parses and validates one YAML file as a ModelConfig. */
export function loadModelFile(path: string): ModelConfig {
  const raw = readYamlFile(path, 'model', 'a preset name or a readable YAML file');
  return validateModelConfig(raw, `model(${basename(path)})`);
}

/**
 * A preset name (configs/models/<name>.yaml) or a path to a YAML file with a ModelConfig.
 * Unknown names list the presets.
 */
export function loadModelConfig(nameOrPath: string): ModelConfig {
  const looksLikePath = /[\\/]/.test(nameOrPath) || /\.ya?ml$/i.test(nameOrPath);
  if (looksLikePath || existsSync(nameOrPath)) {
    if (existsSync(nameOrPath)) return loadModelFile(resolve(nameOrPath));
    if (looksLikePath)
      throw new ConfigError(
        'model',
        nameOrPath,
        `a preset (${modelPresetNames().join(', ')}) or an existing YAML file`,
        'file not found',
      );
  }
  const preset = join(configPath('models'), `${nameOrPath}.yaml`);
  if (!existsSync(preset)) {
    throw new ConfigError(
      'model',
      nameOrPath,
      `a preset (${modelPresetNames().join(', ')}) or a path to a YAML file`,
    );
  }
  return loadModelFile(preset);
}

/** Parameter count of the model a config describes (embeddings, blocks, final norm, LM head if untied). */
export function parameterCount(c: ModelConfig): number {
  const hd = headDimOf(c);
  const h = c.hidden;
  const q = c.heads * hd;
  const kv = c.kvHeads * hd;
  const bias = c.norm === 'layernorm';
  const normParams = bias ? 2 * h : h;
  const attn = h * (q + 2 * kv) + q * h + (bias ? q + 2 * kv + h : 0);
  const mlp =
    c.activation === 'swiglu'
      ? 3 * h * c.intermediate
      : 2 * h * c.intermediate + (bias ? c.intermediate + h : 0);
  const block = attn + mlp + 2 * normParams;
  const crossBlock = block + attn + normParams; // decoder block of an encoder-decoder: + cross-attention
  let n = c.vocabSize * h + (c.positional === 'learned' ? c.maxPositions * h : 0);
  if (c.arch === 'encoder-decoder')
    n += c.layers * block + (c.decoderLayers ?? 0) * crossBlock + 2 * normParams;
  else n += c.layers * block + normParams;
  if (!c.tiedEmbeddings && c.arch !== 'encoder') n += c.vocabSize * h;
  return n;
}
