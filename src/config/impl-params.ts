// Implementation parameters (issue 3) shared by every suite: dilated pairs, ring size and link,
// block-sparse pattern, kv-cache prompt/new tokens, and the two optimization switches. Each field is
// validated on its own with zod, so an error names the field (the CLI shows it as a flag, exit 2);
// the bounds are the native parameter specs' (native/core/descriptor.cpp), never restated here.
import { z } from 'zod';
import { splitList, toBoolean, toNumber } from './coerce.js';
import type { NativeBinding, NativeParamSpec, NativeProblem } from '../native/binding.js';
import { implementationFunction, paramSpec } from '../implementations/descriptors.js';
import { ConfigError } from './errors.js';
import { parseLength } from './units.js';

/**
 * Link presets for ring projections. Numbers on --link-gbps are gigabits per second (Gbit/s);
 * each link is stored with both units: `gbps` (Gbit/s) and `GBps` (GB/s = gbps / 8).
 * - nvlink: NVLink 4 (H100 SXM), 450 GB/s per direction = 3600 Gbit/s.
 * - infiniband: InfiniBand NDR, 400 Gbit/s = 50 GB/s per port.
 */
export const LINK_PRESETS = {
  nvlink: { name: 'nvlink', gbps: 3600, GBps: 450 },
  infiniband: { name: 'infiniband', gbps: 400, GBps: 50 },
} as const;

export interface Link {
  name: string;
  /** gigabits per second */
  gbps: number;
  /** gigabytes per second (gbps / 8) */
  GBps: number;
}

export interface ImplParams {
  segmentLengths?: number[];
  dilationRates?: number[];
  ringSize?: number;
  /** links the ring projections use; undefined: both presets */
  links?: Link[];
  blockSize?: number;
  window?: number;
  stride?: number;
  density?: number;
  blockPattern?: 'local' | 'strided' | 'dilated' | 'random';
  promptLen?: number;
  newTokens?: number;
  prefill?: 'attend' | 'skip';
  /** default true */
  enablePatternCache: boolean;
  /** default true */
  enableMemoryPool: boolean;
}

export const IMPL_PARAM_KEYS = [
  'segmentLengths',
  'dilationRates',
  'ringSize',
  'linkGbps',
  'blockSize',
  'window',
  'stride',
  'density',
  'blockPattern',
  'promptLen',
  'newTokens',
  'prefill',
  'enablePatternCache',
  'enableMemoryPool',
] as const;

/** like splitList, and a bare number (API) is a list of one */
const splitNumberOrList = (v: unknown): unknown => splitList(typeof v === 'number' ? [v] : v);
const linkItem = z.preprocess(
  (v) =>
    typeof v === 'string' && v.trim().toLowerCase() in LINK_PRESETS
      ? v.trim().toLowerCase()
      : toNumber(v),
  z.union([z.enum(['nvlink', 'infiniband']), z.number().positive().finite()]),
);
const bool = z.preprocess(toBoolean, z.boolean());

type ParamField = (typeof IMPL_PARAM_KEYS)[number];
type FieldSpec = { schema: z.ZodType; allowed: string };

/**
 * The zod schema of one implementation parameter from its native spec (bounds, choices): the same
 * numbers the native checks use, so the two cannot disagree. `coerce`: accept CLI strings.
 */
export function paramSchema(spec: NativeParamSpec, coerce = true): z.ZodType {
  const num = (v: z.ZodNumber): z.ZodType => (coerce ? z.preprocess(toNumber, v) : v);
  const bounded = (v: z.ZodNumber): z.ZodNumber => {
    let b = spec.minExclusive ? v.gt(spec.min ?? 0) : v.min(spec.min ?? 0);
    if (spec.max !== undefined) b = b.max(spec.max);
    return b;
  };
  switch (spec.type) {
    case 'enum':
      return z.enum(spec.choices as [string, ...string[]]);
    case 'number':
      return num(bounded(z.number().finite()));
    case 'int-list': {
      const item = bounded(z.number().int());
      const lengths = spec.name === 'segmentLengths';
      const el = coerce
        ? z.preprocess(
            (v) => (typeof v === 'string' ? (lengths ? parseLength(v) : toNumber(v)) : v),
            item,
          )
        : item;
      const list = z.array(el).min(1).max(16);
      return coerce ? z.preprocess(splitNumberOrList, list) : list;
    }
    default:
      return num(bounded(z.number().int()));
  }
}

const LOCAL_SPECS: Partial<Record<ParamField, FieldSpec>> = {
  linkGbps: {
    schema: z.preprocess(splitNumberOrList, z.array(linkItem).min(1)),
    allowed:
      'link bandwidths in Gbit/s (> 0) or presets nvlink (450 GB/s = 3600 Gbit/s), infiniband (NDR 400 Gbit/s = 50 GB/s)',
  },
  enablePatternCache: { schema: bool, allowed: 'true or false' },
  enableMemoryPool: { schema: bool, allowed: 'true or false' },
};

function fieldSpec(name: ParamField): FieldSpec {
  const local = LOCAL_SPECS[name];
  if (local) return local;
  const spec = paramSpec(name);
  return { schema: paramSchema(spec), allowed: `${spec.allowed} (${spec.help})` };
}

function field<T>(name: (typeof IMPL_PARAM_KEYS)[number], value: unknown): T {
  const spec = fieldSpec(name);
  const r = spec.schema.safeParse(value);
  if (!r.success) throw new ConfigError(name, value, spec.allowed, r.error.issues[0]?.message);
  return r.data as T;
}

function toLink(v: 'nvlink' | 'infiniband' | number): Link {
  if (typeof v === 'string') return { ...LINK_PRESETS[v] };
  return { name: `${v} Gbit/s`, gbps: v, GBps: v / 8 };
}

/** Validates the implementation parameters of raw options (CLI strings or API values). */
export function parseImplParams(raw: Record<string, unknown>): ImplParams {
  const out: ImplParams = { enablePatternCache: true, enableMemoryPool: true };
  const set = <K extends Exclude<(typeof IMPL_PARAM_KEYS)[number], 'linkGbps'>>(
    key: K,
    value: unknown,
  ) => {
    out[key] = field<ImplParams[K]>(key, value);
  };
  for (const k of IMPL_PARAM_KEYS) {
    const v = raw[k];
    if (v === undefined) continue;
    if (k === 'linkGbps') {
      out.links = field<('nvlink' | 'infiniband' | number)[]>(k, v).map(toLink);
    } else {
      set(k, v);
    }
  }
  if (
    out.segmentLengths &&
    out.dilationRates &&
    out.segmentLengths.length !== out.dilationRates.length
  ) {
    throw new ConfigError(
      'dilationRates',
      raw.dilationRates,
      `one rate per segment length (${out.segmentLengths.length})`,
      `${out.dilationRates.length} rates for ${out.segmentLengths.length} segment lengths`,
    );
  }
  if ((out.segmentLengths === undefined) !== (out.dilationRates === undefined)) {
    const missing = out.segmentLengths === undefined ? 'segmentLengths' : 'dilationRates';
    throw new ConfigError(
      missing,
      undefined,
      fieldSpec(missing).allowed,
      '--segment-lengths and --dilation-rates go together',
    );
  }
  return out;
}

/** The native problem fields of the parameters (only those given). */
export function problemParams(p: ImplParams): Partial<NativeProblem> {
  const out: Partial<NativeProblem> = {};
  if (p.segmentLengths) out.segmentLengths = p.segmentLengths;
  if (p.dilationRates) out.dilationRates = p.dilationRates;
  if (p.ringSize !== undefined) out.ringSize = p.ringSize;
  if (p.blockSize !== undefined) out.blockSize = p.blockSize;
  if (p.window !== undefined) out.window = p.window;
  if (p.stride !== undefined) out.stride = p.stride;
  if (p.density !== undefined) out.density = p.density;
  if (p.blockPattern !== undefined) out.blockPattern = p.blockPattern;
  if (p.promptLen !== undefined) out.promptLen = p.promptLen;
  if (p.newTokens !== undefined) out.newTokens = p.newTokens;
  if (p.prefill !== undefined) out.prefill = p.prefill;
  return out;
}

/** The config block entries of the parameters (links in both units). */
export function implParamsConfig(p: ImplParams): Record<string, unknown> {
  return {
    ...problemParams(p),
    ...(p.links ? { links: p.links } : {}),
    enablePatternCache: p.enablePatternCache,
    enableMemoryPool: p.enableMemoryPool,
  };
}

/**
 * kv-cache and kv-cache-recompute decode autoregressively: each new token attends the tokens
 * before it, which is causal by definition (docs/attention-definitions.md, "kv-cache (decoding)").
 * Suites run them causal whatever the run's causal flag (the rows say causal: true, with a note);
 * computeAttention refuses causal: false for them. (The native kernels also take causal = false as
 * a prefix-LM, bidirectional prompt and causal steps, reached only through the binding.)
 */
export function decodesCausally(implementation: string, binding: NativeBinding): boolean {
  // the descriptor says which function it computes (plugins declaring kv-cache included); a
  // binding that carries no descriptors (a stand-in) falls back to the built-in names
  try {
    const f = implementationFunction(implementation, binding);
    if (f !== null) return f === 'kv-cache';
  } catch {
    /* a stand-in without listImplementations() */
  }
  return implementation.startsWith('kv-cache');
}

/** The parameters for one implementation at one length (kv-cache: promptLen + newTokens = seqLen; always causal). */
export function problemParamsFor(
  p: ImplParams,
  implementation: string,
  seqLen: number,
  binding: NativeBinding,
): Partial<NativeProblem> {
  const out: Partial<NativeProblem> = problemParams(p);
  if (decodesCausally(implementation, binding)) {
    out.causal = true;
    if (out.promptLen !== undefined && out.newTokens === undefined && seqLen >= out.promptLen)
      out.newTokens = seqLen - out.promptLen;
    else if (out.newTokens !== undefined && out.promptLen === undefined && seqLen > out.newTokens)
      out.promptLen = seqLen - out.newTokens;
  } else {
    delete out.promptLen;
    delete out.newTokens;
    delete out.prefill;
  }
  return out;
}
