// Implementation parameters (issue 3) shared by every suite: dilated pairs, ring size and link,
// block-sparse pattern, kv-cache prompt/new tokens, and the two optimization switches. Each field is
// validated on its own with zod, so an error names the field (the CLI shows it as a flag, exit 2).
import { z } from 'zod';
import { splitList, toBoolean, toNumber } from './coerce.js';
import type { NativeProblem } from '../native/binding.js';
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
  /** default true */
  enablePatternCache: boolean;
  /** default true */
  enableMemoryPool: boolean;
}

export const IMPL_PARAM_KEYS = [
  'segmentLengths', 'dilationRates', 'ringSize', 'linkGbps', 'blockSize', 'window', 'stride', 'density',
  'blockPattern', 'promptLen', 'newTokens', 'enablePatternCache', 'enableMemoryPool',
] as const;

/** like splitList, and a bare number (API) is a list of one */
const splitNumberOrList = (v: unknown): unknown => splitList(typeof v === 'number' ? [v] : v);
const int = (min: number, max = 1 << 30) => z.preprocess(toNumber, z.number().int().min(min).max(max));
const lengthItem = z.preprocess((v) => (typeof v === 'string' ? parseLength(v) : v), z.number().int().min(1).max(1 << 30));
const linkItem = z.preprocess(
  (v) => (typeof v === 'string' && v.trim().toLowerCase() in LINK_PRESETS ? v.trim().toLowerCase() : toNumber(v)),
  z.union([z.enum(['nvlink', 'infiniband']), z.number().positive().finite()]),
);
const bool = z.preprocess(toBoolean, z.boolean());

const SPECS: Record<(typeof IMPL_PARAM_KEYS)[number], { schema: z.ZodType; allowed: string }> = {
  segmentLengths: { schema: z.preprocess(splitNumberOrList, z.array(lengthItem).min(1).max(16)), allowed: 'one or more segment lengths >= 1 (K = 1024), e.g. 2048,8192,32768' },
  dilationRates: { schema: z.preprocess(splitNumberOrList, z.array(int(1)).min(1).max(16)), allowed: 'one or more dilation rates >= 1, one per segment length, e.g. 1,2,4' },
  ringSize: { schema: int(1, 1 << 20), allowed: 'an integer >= 1 (simulated ranks; at most seqLen)' },
  linkGbps: { schema: z.preprocess(splitNumberOrList, z.array(linkItem).min(1)), allowed: 'link bandwidths in Gbit/s (> 0) or presets nvlink (450 GB/s = 3600 Gbit/s), infiniband (NDR 400 Gbit/s = 50 GB/s)' },
  blockSize: { schema: int(1, 1 << 16), allowed: 'an integer >= 1' },
  window: { schema: int(0, 1 << 30), allowed: 'an integer >= 0 (blocks each side for the local pattern)' },
  stride: { schema: int(1, 1 << 30), allowed: 'an integer >= 1' },
  density: { schema: z.preprocess(toNumber, z.number().gt(0).max(1)), allowed: 'a number in (0, 1]' },
  blockPattern: { schema: z.enum(['local', 'strided', 'dilated', 'random']), allowed: 'local, strided, dilated, random' },
  promptLen: { schema: int(1, 1 << 30), allowed: 'an integer >= 1 (kv-cache prompt tokens; at most seqLen)' },
  newTokens: { schema: int(0, 1 << 30), allowed: 'an integer >= 0 (kv-cache decode steps)' },
  enablePatternCache: { schema: bool, allowed: 'true or false' },
  enableMemoryPool: { schema: bool, allowed: 'true or false' },
};

function field<T>(name: (typeof IMPL_PARAM_KEYS)[number], value: unknown): T {
  const r = SPECS[name].schema.safeParse(value);
  if (!r.success) throw new ConfigError(name, value, SPECS[name].allowed, r.error.issues[0]?.message);
  return r.data as T;
}

function toLink(v: 'nvlink' | 'infiniband' | number): Link {
  if (typeof v === 'string') return { ...LINK_PRESETS[v] };
  return { name: `${v} Gbit/s`, gbps: v, GBps: v / 8 };
}

/** Validates the implementation parameters of raw options (CLI strings or API values). */
export function parseImplParams(raw: Record<string, unknown>): ImplParams {
  const out: ImplParams = { enablePatternCache: true, enableMemoryPool: true };
  for (const k of IMPL_PARAM_KEYS) {
    const v = raw[k];
    if (v === undefined) continue;
    if (k === 'linkGbps') {
      out.links = field<('nvlink' | 'infiniband' | number)[]>(k, v).map(toLink);
    } else {
      (out as unknown as Record<string, unknown>)[k] = field(k, v);
    }
  }
  if (out.segmentLengths && out.dilationRates && out.segmentLengths.length !== out.dilationRates.length) {
    throw new ConfigError('dilationRates', raw.dilationRates, `one rate per segment length (${out.segmentLengths.length})`, `${out.dilationRates.length} rates for ${out.segmentLengths.length} segment lengths`);
  }
  if ((out.segmentLengths === undefined) !== (out.dilationRates === undefined)) {
    const missing = out.segmentLengths === undefined ? 'segmentLengths' : 'dilationRates';
    throw new ConfigError(missing, undefined, SPECS[missing].allowed, '--segment-lengths and --dilation-rates go together');
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
export function decodesCausally(implementation: string): boolean {
  return implementation.startsWith('kv-cache');
}

/** The parameters for one implementation at one length (kv-cache: promptLen + newTokens = seqLen; always causal). */
export function problemParamsFor(p: ImplParams, implementation: string, seqLen: number): Partial<NativeProblem> {
  const out: Partial<NativeProblem> = problemParams(p);
  if (decodesCausally(implementation)) {
    out.causal = true;
    if (out.promptLen !== undefined && out.newTokens === undefined && seqLen >= out.promptLen) out.newTokens = seqLen - out.promptLen;
    else if (out.newTokens !== undefined && out.promptLen === undefined && seqLen > out.newTokens) out.promptLen = seqLen - out.newTokens;
  } else {
    delete out.promptLen;
    delete out.newTokens;
  }
  return out;
}
