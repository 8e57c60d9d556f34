// Validation of every user-facing option (CLI flags and API fields share one schema).
// Each field is parsed on its own so the error names the field, the value and what is allowed.
import { z } from 'zod';
import { splitList, toBoolean, toNumber } from './coerce.js';
import { ConfigError } from './errors.js';
import { expandRange, loadRanges, rangeNames, type RangeTable } from './ranges.js';
import { parseByteSize, parseLength } from './units.js';
import { IMPL_PARAM_KEYS, parseImplParams, type ImplParams } from './impl-params.js';

/** Longest sequence accepted anywhere (the planner decides what actually fits). */
export const MAX_SEQ_LEN = 1 << 27;

/** "1%" -> 0.01, "0.01" -> 0.01 */
function toFraction(v: unknown): unknown {
  if (typeof v === 'string' && /^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*%\s*$/.test(v))
    return Number(v.trim().slice(0, -1).trim()) / 100;
  return toNumber(v);
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(toNumber, z.number().int().min(min).max(max));

const lengthItem = z.preprocess(
  (v) => (typeof v === 'string' || typeof v === 'number' ? parseLength(v) : v),
  z.number().int().min(1).max(MAX_SEQ_LEN),
);

export const DEVICES = ['cpu', 'cuda'] as const;
/** --device: a backend, or 'auto' (cuda when the loaded build reports a device, else cpu) */
export const DEVICE_CHOICES = ['cpu', 'cuda', 'auto'] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];
/** storage precisions of the kernels (accumulation is fp32 in every one) */
export const DTYPES = ['fp32', 'fp16', 'bf16'] as const;
export type DTypeChoice = (typeof DTYPES)[number];

interface FieldSpec {
  schema: z.ZodType;
  allowed: string;
}

/** --require-quiet without a number: how long a run waits for the machine to become quiet */
export const DEFAULT_QUIET_WAIT_SECONDS = 60;

function fields(ranges: RangeTable) {
  const names = rangeNames(ranges);
  return {
    range: { schema: z.enum(names as [string, ...string[]]), allowed: names.join(', ') },
    customLengths: {
      schema: z.preprocess(splitList, z.array(lengthItem).min(1)),
      allowed: `one or more lengths 1..${MAX_SEQ_LEN}, space- or comma-separated (K = 1024, M = 1048576), e.g. 128,256,4K`,
    },
    implementations: {
      schema: z.preprocess(splitList, z.array(z.string().min(1)).min(1)),
      allowed: 'one or more implementation names, space- or comma-separated',
    },
    batchSize: { schema: int(1, 1 << 20), allowed: 'an integer >= 1' },
    heads: { schema: int(1, 1 << 16), allowed: 'an integer >= 1' },
    kvHeads: { schema: int(1, 1 << 16), allowed: 'an integer >= 1 that divides --heads' },
    headDim: {
      schema: int(1, 1024),
      allowed: 'an integer 1..1024 that the implementation supports (32, 64, 128 at least)',
    },
    causal: { schema: z.preprocess(toBoolean, z.boolean()), allowed: 'true or false' },
    warmup: {
      schema: z.union([z.literal('adaptive'), int(0, 1_000_000)]),
      allowed: "'adaptive' or an integer >= 0",
    },
    runs: { schema: int(1, 1_000_000), allowed: 'an integer >= 1' },
    targetRse: {
      schema: z.preprocess(toFraction, z.number().gt(0).lt(1)),
      allowed: 'a fraction in (0, 1) or a percent, e.g. 0.01 or 1%',
    },
    minSamples: { schema: int(1, 1_000_000), allowed: 'an integer >= 1' },
    maxSamples: { schema: int(1, 10_000_000), allowed: 'an integer >= 1 (and >= --min-samples)' },
    maxTime: {
      schema: z.preprocess(toNumber, z.number().positive().finite()),
      allowed: 'a number of seconds > 0',
    },
    cold: { schema: z.preprocess(toBoolean, z.boolean()), allowed: 'true or false' },
    interleave: { schema: z.preprocess(toBoolean, z.boolean()), allowed: 'true or false' },
    requireQuiet: {
      // the bare flag (true) waits up to the default; a number: that many seconds (0: refuse at once)
      schema: z.preprocess(
        (v) => (v === true || v === 'true' ? DEFAULT_QUIET_WAIT_SECONDS : toNumber(v)),
        z.number().min(0).max(3600),
      ),
      allowed: `seconds to wait for a quiet machine, 0..3600 (the bare flag: ${DEFAULT_QUIET_WAIT_SECONDS})`,
    },
    repetitions: {
      schema: int(1, 1000),
      allowed: 'an integer >= 1 (each repetition in a fresh worker process)',
    },
    peak: {
      schema: z.preprocess(toBoolean, z.boolean()),
      allowed: 'true or false (false: do not measure a missing peak.json)',
    },
    plots: { schema: z.preprocess(toBoolean, z.boolean()), allowed: 'true or false' },
    history: { schema: z.preprocess(toBoolean, z.boolean()), allowed: 'true or false' },
    baseline: { schema: z.string().trim().min(1), allowed: 'an implementation name, e.g. naive' },
    threads: { schema: int(0, 4096), allowed: 'an integer >= 0 (0 = all hardware threads)' },
    seed: { schema: int(0, 2 ** 32 - 1), allowed: 'an integer 0..4294967295' },
    memoryBudget: {
      schema: z.preprocess(
        (v) => (typeof v === 'string' || typeof v === 'number' ? parseByteSize(v) : v),
        z.number().int().min(1),
      ),
      allowed: 'a byte size > 0 such as 8GiB, 512MiB, 1.5G or a plain number of bytes',
    },
    maxRunSeconds: {
      schema: z.preprocess(toNumber, z.number().positive().finite()),
      allowed: 'a number of seconds > 0',
    },
    outputDir: {
      schema: z.union([z.string().min(1), z.null()]),
      allowed: 'a directory path (or null in the API: write no files)',
    },
    json: { schema: z.preprocess(toBoolean, z.boolean()), allowed: 'true or false' },
    quiet: { schema: z.preprocess(toBoolean, z.boolean()), allowed: 'true or false' },
    ...SIDE_FIELDS,
  } satisfies Record<string, FieldSpec>;
}

/** --device, --dtype, --compare-dtypes, --compare-devices: shared by the suites, inference and scaling. */
const SIDE_FIELDS = {
  device: {
    schema: z.enum(DEVICE_CHOICES),
    allowed: `${DEVICE_CHOICES.join(', ')} (auto: cuda when the loaded build reports a CUDA device, else cpu)`,
  },
  dtype: { schema: z.enum(DTYPES), allowed: DTYPES.join(', ') },
  compareDtypes: {
    schema: z.preprocess(splitList, z.array(z.enum(DTYPES)).min(2)),
    allowed: `two or more different dtypes of ${DTYPES.join(', ')}, comma-separated, the first the baseline (e.g. fp32,bf16)`,
  },
  compareDevices: { schema: z.preprocess(toBoolean, z.boolean()), allowed: 'true or false' },
} satisfies Record<string, FieldSpec>;

export interface SideOptions {
  device: DeviceChoice;
  /** with compareDtypes: its first entry */
  dtype: DTypeChoice;
  compareDtypes?: DTypeChoice[];
  compareDevices: boolean;
}

/**
 * Validates the device and dtype options (each error names the field and what is allowed):
 * --compare-devices excludes --device, --compare-dtypes excludes --dtype and lists each dtype once.
 */
export function parseSideOptions(raw: Record<string, unknown>): SideOptions {
  const get = <T>(name: keyof typeof SIDE_FIELDS, dflt?: T): T | undefined =>
    raw[name] === undefined ? dflt : parseField<T>(SIDE_FIELDS, name, raw[name]);
  const device = get<DeviceChoice>('device', DEFAULTS.device)!;
  const compareDevices = get<boolean>('compareDevices', DEFAULTS.compareDevices)!;
  if (compareDevices && raw.device !== undefined) {
    throw new ConfigError(
      'compareDevices',
      raw.compareDevices,
      'without --device (it runs both cpu and cuda)',
      `--device ${String(raw.device)} was given too`,
    );
  }
  const dtype = get<DTypeChoice>('dtype', DEFAULTS.dtype)!;
  const compareDtypes = get<DTypeChoice[]>('compareDtypes');
  if (compareDtypes) {
    if (raw.dtype !== undefined) {
      throw new ConfigError(
        'compareDtypes',
        raw.compareDtypes,
        'without --dtype (it runs every dtype listed)',
        `--dtype ${String(raw.dtype)} was given too`,
      );
    }
    if (new Set(compareDtypes).size !== compareDtypes.length) {
      throw new ConfigError(
        'compareDtypes',
        raw.compareDtypes,
        SIDE_FIELDS.compareDtypes.allowed,
        'a dtype is listed twice',
      );
    }
  }
  // with --compare-dtypes the first listed is the run's dtype (the comparison's baseline)
  return {
    device,
    dtype: compareDtypes?.[0] ?? dtype,
    ...(compareDtypes ? { compareDtypes } : {}),
    compareDevices,
  };
}

export interface SequenceRangesOptions extends ImplParams {
  range: string;
  /** resolved lengths, in run order */
  lengths: number[];
  customLengths?: number[];
  /** undefined: every implementation the device offers */
  implementations?: string[];
  batchSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  causal: boolean;
  /** warm-up iterations, or 'adaptive' (default): until the first samples stabilise */
  warmup: number | 'adaptive';
  /** fixed timed iterations (stop reason 'fixed-runs'); undefined: adaptive stopping rule */
  runs?: number;
  /** stop when the relative standard error of the mean reaches this (default 0.01) */
  targetRse: number;
  /** at least this many samples (default 10) */
  minSamples: number;
  /** at most this many samples (default 1000) */
  maxSamples: number;
  /** time budget per point in seconds, warm-up included (default 10) */
  maxTime: number;
  /** evict the last-level cache before each sample */
  cold: boolean;
  /** sample the implementations of one point in randomised round-robin (default true) */
  interleave: boolean;
  /** --require-quiet: seconds to wait for a quiet machine before refusing to start */
  requireQuiet?: number;
  /** independent repetitions of every point, each in a fresh worker process (default 1) */
  repetitions: number;
  /** measure the machine peak first when the output directory has no peak.json (default true) */
  peak: boolean;
  /** write plots beside the results (default true) */
  plots: boolean;
  /** append the rows to <outputDir>/history.jsonl (default true) */
  history: boolean;
  /** implementation the speedup plot compares against (default naive) */
  baseline: string;
  /** 0 = all hardware threads */
  threads: number;
  seed: number;
  /** undefined: half of the memory available */
  memoryBudget?: number;
  maxRunSeconds: number;
  outputDir: string | null;
  json: boolean;
  quiet: boolean;
  /** 'auto' is resolved by the runner (cuda when the binding reports a device, else cpu) */
  device: DeviceChoice;
  /** storage precision of the inputs and outputs (default fp32) */
  dtype: DTypeChoice;
  /** run the plan once per dtype (the first is the baseline of the precision comparison) */
  compareDtypes?: DTypeChoice[];
  /** run the plan on the cpu and on cuda (cpu is the baseline of the device comparison) */
  compareDevices: boolean;
}

export const DEFAULTS = {
  range: 'production',
  batchSize: 1,
  heads: 8,
  headDim: 64,
  causal: false,
  threads: 0,
  seed: 42,
  maxRunSeconds: 600,
  outputDir: 'benchmark_results',
  json: false,
  quiet: false,
  device: 'cpu',
  dtype: 'fp32',
  compareDevices: false,
  /** adaptive sampling (issue 4) is the default; --runs N switches to a fixed count */
  warmup: 'adaptive',
  targetRse: 0.01,
  minSamples: 10,
  maxSamples: 1000,
  maxTime: 10,
  cold: false,
  interleave: true,
  repetitions: 1,
  peak: true,
  plots: true,
  history: true,
  baseline: 'naive',
} as const;

const KNOWN_KEYS = new Set([
  'range',
  'customLengths',
  'implementations',
  'batchSize',
  'heads',
  'kvHeads',
  'headDim',
  'causal',
  'warmup',
  'runs',
  'threads',
  'seed',
  'memoryBudget',
  'maxRunSeconds',
  'outputDir',
  'json',
  'quiet',
  'device',
  'dtype',
  'compareDtypes',
  'compareDevices',
  'targetRse',
  'minSamples',
  'maxSamples',
  'maxTime',
  'cold',
  'interleave',
  'requireQuiet',
  'repetitions',
  'peak',
  'plots',
  'history',
  'baseline',
  ...IMPL_PARAM_KEYS,
]);

function parseField<T, K extends string = string>(
  specs: Record<K, FieldSpec>,
  name: K,
  value: unknown,
): T {
  const spec = specs[name];
  const r = spec.schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConfigError(name, value, spec.allowed, issue?.message);
  }
  return r.data as T;
}

/**
 * Validates raw options (strings from the CLI or typed values from the API) into
 * SequenceRangesOptions. Unknown keys are ignored unless `strict` (the API passes extra
 * fields like `suite`, `signal`, `onProgress`, which it removes first).
 */
export function parseSequenceRangesOptions(
  raw: Record<string, unknown>,
  opts: { ranges?: RangeTable; strict?: boolean } = {},
): SequenceRangesOptions {
  const ranges = opts.ranges ?? loadRanges();
  const specs = fields(ranges);
  if (opts.strict) {
    for (const k of Object.keys(raw)) {
      if (!KNOWN_KEYS.has(k) && raw[k] !== undefined) {
        throw new ConfigError(k, raw[k], `one of ${[...KNOWN_KEYS].join(', ')}`, 'unknown option');
      }
    }
  }
  const get = <T>(name: keyof typeof specs, dflt?: T): T | undefined => {
    const v = raw[name];
    if (v === undefined) return dflt;
    return parseField<T>(specs, name, v);
  };

  const customLengths = get<number[]>('customLengths');
  let range = get<string>('range');
  if (range === undefined) range = customLengths ? 'custom' : DEFAULTS.range;
  let lengths: number[];
  if (range === 'custom') {
    if (!customLengths) {
      throw new ConfigError(
        'customLengths',
        undefined,
        specs.customLengths.allowed,
        'required with --range custom',
      );
    }
    lengths = [...new Set(customLengths)];
  } else {
    if (customLengths) {
      throw new ConfigError(
        'customLengths',
        raw.customLengths,
        'only with --range custom',
        `--range is ${range}`,
      );
    }
    lengths = expandRange(range, ranges);
  }

  const heads = get<number>('heads', DEFAULTS.heads)!;
  const kvHeads = get<number>('kvHeads', heads)!;
  if (kvHeads > heads || heads % kvHeads !== 0) {
    throw new ConfigError(
      'kvHeads',
      raw.kvHeads,
      `a divisor of heads (${heads})`,
      `${heads} heads cannot share ${kvHeads} kv heads`,
    );
  }
  const implementations = get<string[]>('implementations');
  const minSamples = get<number>('minSamples', DEFAULTS.minSamples)!;
  const maxSamples = get<number>('maxSamples', Math.max(DEFAULTS.maxSamples, minSamples))!;
  if (maxSamples < minSamples) {
    throw new ConfigError(
      'maxSamples',
      raw.maxSamples,
      `an integer >= minSamples (${minSamples})`,
      `${maxSamples} < ${minSamples}`,
    );
  }

  const sides = parseSideOptions(raw);

  return {
    range,
    lengths,
    customLengths,
    implementations: implementations ? [...new Set(implementations)] : undefined,
    batchSize: get<number>('batchSize', DEFAULTS.batchSize)!,
    heads,
    kvHeads,
    headDim: get<number>('headDim', DEFAULTS.headDim)!,
    causal: get<boolean>('causal', DEFAULTS.causal)!,
    warmup: get<number | 'adaptive'>('warmup', DEFAULTS.warmup)!,
    runs: get<number>('runs'),
    targetRse: get<number>('targetRse', DEFAULTS.targetRse)!,
    minSamples,
    maxSamples,
    maxTime: get<number>('maxTime', DEFAULTS.maxTime)!,
    cold: get<boolean>('cold', DEFAULTS.cold)!,
    interleave: get<boolean>('interleave', DEFAULTS.interleave)!,
    requireQuiet: get<number>('requireQuiet'),
    repetitions: get<number>('repetitions', DEFAULTS.repetitions)!,
    peak: get<boolean>('peak', DEFAULTS.peak)!,
    plots: get<boolean>('plots', DEFAULTS.plots)!,
    history: get<boolean>('history', DEFAULTS.history)!,
    baseline: get<string>('baseline', DEFAULTS.baseline)!,
    threads: get<number>('threads', DEFAULTS.threads)!,
    seed: get<number>('seed', DEFAULTS.seed)!,
    memoryBudget: get<number>('memoryBudget'),
    maxRunSeconds: get<number>('maxRunSeconds', DEFAULTS.maxRunSeconds)!,
    outputDir: raw.outputDir === null ? null : get<string>('outputDir', DEFAULTS.outputDir)!,
    json: get<boolean>('json', DEFAULTS.json)!,
    quiet: get<boolean>('quiet', DEFAULTS.quiet)!,
    ...sides,
    ...parseImplParams(raw),
  };
}

/** Checks implementation names against what the binding offers on the device. */
export function checkImplementations(
  requested: string[],
  available: string[],
  device: string,
): void {
  for (const name of requested) {
    if (!available.includes(name)) {
      throw new ConfigError(
        'implementations',
        name,
        available.length ? available.join(', ') : `(none available on ${device})`,
        `unknown implementation on ${device}`,
      );
    }
  }
}

/** The memory budget's allowed text, reused by API callers. */
export const MEMORY_BUDGET_HELP = 'e.g. 8GiB, 512MiB, 1.5G or bytes';
