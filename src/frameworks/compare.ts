// `dilbench frameworks` core: the same attention problem through several frameworks, measured by
// the one measurement engine (interleaved, so machine drift hits all alike), outputs compared
// pairwise, significance of each difference from dilbench (Mann-Whitney U, bootstrap CI of the
// ratio of medians), and a fairness record (dtype, threads, shapes, versions, timing method).
import os from 'node:os';
import { measureInterleaved } from '../measure/scheduler.js';
import type { Measurement, Sampler, SamplingOptions } from '../measure/types.js';
import type { NativeBinding } from '../native/binding.js';
import { compareSamples } from '../stats/sample-ratio.js';
import { createRng } from '../stats/random.js';
import { availableMemoryBytes } from '../env/environment.js';
import { errors } from '../results/validation.js';
import { DilbenchAdapter, nativeProblem, seededInputs, sessionOptions } from './dilbench.js';
import { OnnxRuntimeAdapter, loadOnnxRuntime, ortVersion } from './onnxruntime.js';
import { PyTorchAdapter } from './pytorch.js';
import {
  attentionFlops,
  isSkip,
  type FrameworkAdapter,
  type FrameworkDtype,
  type FrameworkInputs,
  type FrameworkName,
  type FrameworkSkip,
  type FrameworkSpec,
  type PeakMemory,
} from './types.js';

/**
 * Idle time before each side's turn where other frameworks share a point: onnxruntime-node's
 * pool spins about 27 ms of CPU after a 2K MHA call returns and PyTorch's OpenMP 5-9 ms (measured
 * on this project's 2-core machine), time the next side would otherwise lose a core to.
 */
export const FOREIGN_SETTLE_MS = 60;

export interface FrameworksOptions {
  seqLens: number[];
  batch: number;
  heads: number;
  headDim: number;
  causal: boolean;
  threads: number;
  frameworks: FrameworkName[];
  implementation: string;
  dtype: FrameworkDtype;
  seed: number;
  sampling: SamplingOptions;
  log?: (line: string) => void;
}

export interface FrameworkPoint {
  framework: FrameworkName;
  seqLen: number;
  status: 'ok' | 'skipped' | 'failed';
  reason: string | null;
  version: string | null;
  description: string | null;
  timing: string | null;
  setupMs: number | null;
  coldStartMs: number | null;
  measurement: Measurement | null;
  flops: number;
  gflops: number | null;
  tokensPerSecond: number | null;
  peakMemory: PeakMemory | null;
}

export interface Agreement {
  seqLen: number;
  a: FrameworkName;
  b: FrameworkName;
  maxAbsError: number;
  relL2Error: number;
  /** max of |a - b| / max(1, |b|): what the fp16/bf16 max-abs bound applies to */
  maxScaledError: number;
}

export interface Significance {
  seqLen: number;
  framework: FrameworkName;
  /** median time of the framework / median time of dilbench (> 1: dilbench faster) */
  ratio: number;
  ratioCi95: [number, number];
  p: number;
  method: 'exact' | 'normal';
  verdict: 'dilbench faster' | 'dilbench slower' | 'no significant difference';
}

export interface Fairness {
  dtype: string;
  threads: number;
  shapes: { batch: number; heads: number; headDim: number; seqLens: number[]; causal: boolean };
  inputs: string;
  versions: Record<string, string>;
  timing: Record<string, string>;
  notes: string[];
}

export interface FrameworksReport {
  points: FrameworkPoint[];
  agreement: Agreement[];
  significance: Significance[];
  fairness: Fairness;
}

/** Maximum absolute and relative L2 difference of two outputs (b as the reference of rel L2). */
export function outputDifference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { maxAbsError: number; relL2Error: number } {
  if (a.length !== b.length)
    throw new RangeError(`output lengths differ: ${a.length} vs ${b.length}`);
  const { maxAbsError, relL2Error } = errors(a, b);
  return { maxAbsError, relL2Error };
}

/**
 * Compares dilbench's samples with another framework's (stats/sample-ratio.ts, as every
 * comparison of samples); alpha 0.05: a difference is significant when the p-value is below it
 * and the interval of the ratio excludes 1.
 */
export function significanceOf(
  seqLen: number,
  framework: FrameworkName,
  dilbenchMs: number[],
  otherMs: number[],
  seed = 0x5eed,
): Significance {
  const sr = compareSamples(dilbenchMs, otherMs, createRng(seed));
  const ci = sr.ratioCi95;
  let verdict: Significance['verdict'] = 'no significant difference';
  if (sr.pValue < 0.05 && ci[0] > 1) verdict = 'dilbench faster';
  else if (sr.pValue < 0.05 && ci[1] < 1) verdict = 'dilbench slower';
  return {
    seqLen,
    framework,
    ratio: sr.ratio,
    ratioCi95: ci,
    p: sr.pValue,
    method: sr.test,
    verdict,
  };
}

/** Scores buffer of the MatMul graph (B H S S fp32, plus softmax output): skip when it cannot fit. */
export function matmulGraphBytes(spec: Pick<FrameworkSpec, 'batch' | 'heads' | 'seqLen'>): number {
  return 2 * 4 * spec.batch * spec.heads * spec.seqLen * spec.seqLen;
}

async function createAdapter(
  name: FrameworkName,
  binding: NativeBinding,
  spec: FrameworkSpec,
  inputs: FrameworkInputs,
): Promise<FrameworkAdapter | FrameworkSkip> {
  switch (name) {
    case 'dilbench':
      return DilbenchAdapter.create(binding, spec);
    case 'onnxruntime-mha':
      return OnnxRuntimeAdapter.create(spec, inputs, 'mha');
    case 'onnxruntime-matmul': {
      const need = matmulGraphBytes(spec);
      const avail = availableMemoryBytes();
      if (need > avail / 2) {
        return {
          name,
          skipped: true,
          reason: `the MatMul-Softmax-MatMul graph materialises the ${spec.seqLen}x${spec.seqLen} score matrix per head (~${(need / 2 ** 30).toFixed(1)} GiB), more than half the available ${(avail / 2 ** 30).toFixed(1)} GiB`,
        };
      }
      return OnnxRuntimeAdapter.create(spec, inputs, 'matmul');
    }
    case 'pytorch':
      return PyTorchAdapter.create(spec, inputs);
  }
}

function emptyPoint(
  framework: FrameworkName,
  seqLen: number,
  flops: number,
  status: 'skipped' | 'failed',
  reason: string,
): FrameworkPoint {
  return {
    framework,
    seqLen,
    status,
    reason,
    version: null,
    description: null,
    timing: null,
    setupMs: null,
    coldStartMs: null,
    measurement: null,
    flops,
    gflops: null,
    tokensPerSecond: null,
    peakMemory: null,
  };
}

/** Runs every framework at every length; never throws for one framework's failure. */
export async function runFrameworks(
  binding: NativeBinding,
  o: FrameworksOptions,
): Promise<FrameworksReport> {
  const log = o.log ?? (() => undefined);
  const points: FrameworkPoint[] = [];
  const agreement: Agreement[] = [];
  const significance: Significance[] = [];
  const versions: Record<string, string> = {};
  const timing: Record<string, string> = {};
  const notes: string[] = [];
  const info = binding.info();
  versions.dilbench = `dilbench ${info.version} (${info.buildType}, SIMD ${info.simdLevel})`;
  versions.node = process.version;

  for (const seqLen of o.seqLens) {
    const spec: FrameworkSpec = {
      batch: o.batch,
      heads: o.heads,
      seqLen,
      headDim: o.headDim,
      causal: o.causal,
      threads: o.threads,
      implementation: o.implementation,
      dtype: o.dtype,
      seed: o.seed,
    };
    let flops = attentionFlops(spec);
    try {
      flops = binding.plan(nativeProblem(spec), sessionOptions(spec)).flops;
    } catch {
      /* keep the analytic count */
    }
    log(`length ${seqLen}: preparing seeded inputs`);
    const inputs = await seededInputs(binding, spec);
    const adapters = new Map<FrameworkName, FrameworkAdapter>();
    try {
      for (const name of o.frameworks) {
        log(`length ${seqLen}: setting up ${name}`);
        try {
          const a = await createAdapter(name, binding, spec, inputs);
          if (isSkip(a)) {
            log(`length ${seqLen}: ${name} skipped: ${a.reason}`);
            points.push(emptyPoint(name, seqLen, flops, 'skipped', a.reason));
          } else {
            adapters.set(name, a);
            versions[name] = a.version;
            timing[name] = a.timing;
          }
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          log(`length ${seqLen}: ${name} failed to set up: ${msg}`);
          points.push(emptyPoint(name, seqLen, flops, 'failed', msg));
        }
      }
      if (adapters.size === 0) continue;
      const samplers = new Map<string, Sampler>([...adapters].map(([n, a]) => [n, a.sampler]));
      log(`length ${seqLen}: measuring ${[...adapters.keys()].join(', ')} (interleaved)`);
      const ms = await measureInterleaved(samplers, { settleMs: FOREIGN_SETTLE_MS, ...o.sampling });
      const outputs = new Map<FrameworkName, Float32Array>();
      for (const [name, a] of adapters) {
        const m = ms.get(name) as Measurement;
        const median = m.stats.medianMs;
        points.push({
          framework: name,
          seqLen,
          status: 'ok',
          reason: null,
          version: a.version,
          description: a.description,
          timing: a.timing,
          setupMs: a.setupMs,
          coldStartMs: m.coldStartMs,
          measurement: m,
          flops,
          gflops: flops / (median / 1000) / 1e9,
          tokensPerSecond: (spec.batch * seqLen) / (median / 1000),
          peakMemory: a.peakMemory(),
        });
        try {
          outputs.set(name, await a.output());
        } catch (e) {
          log(
            `length ${seqLen}: ${name} output failed: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
      }
      const names = [...outputs.keys()];
      for (let i = 0; i < names.length; i++) {
        for (let j = i + 1; j < names.length; j++) {
          const a = names[i] as FrameworkName;
          const b = names[j] as FrameworkName;
          agreement.push({
            seqLen,
            a,
            b,
            ...errors(outputs.get(a) as Float32Array, outputs.get(b) as Float32Array),
          });
        }
      }
      const base = ms.get('dilbench');
      if (base) {
        for (const [name] of adapters) {
          if (name === 'dilbench') continue;
          significance.push(
            significanceOf(
              seqLen,
              name,
              base.samplesMs,
              (ms.get(name) as Measurement).samplesMs,
              o.sampling.seed,
            ),
          );
        }
      }
    } finally {
      for (const a of adapters.values()) await a.dispose().catch(() => undefined);
    }
  }

  if (!o.frameworks.some((f) => f.startsWith('onnxruntime'))) {
    /* not asked */
  } else {
    const ort = await loadOnnxRuntime();
    if (typeof ort !== 'string') versions.onnxruntime = ortVersion(ort);
  }
  notes.push(
    o.dtype === 'fp32'
      ? "all frameworks get the same seeded fp32 inputs (dilbench's generator) and the same scale 1/sqrt(headDim); outputs are compared in [B, H, S, D]"
      : `all frameworks get the same seeded inputs, rounded once to ${o.dtype} (by dilbench, to nearest even), so every framework stores identical ${o.dtype} values; same scale 1/sqrt(headDim); outputs are compared in [B, H, S, D] after an exact conversion to fp32`,
    ...(o.dtype === 'fp32'
      ? []
      : [
          `arithmetic inside each framework is its own choice for ${o.dtype} storage: dilbench computes and accumulates in fp32; PyTorch and onnxruntime as their CPU kernels do (not controlled here)`,
        ]),
    `intra-op threads ${o.threads} everywhere (onnxruntime: intraOpNumThreads, 1 inter-op thread, sequential; PyTorch: torch.set_num_threads); machine has ${os.availableParallelism?.() ?? os.cpus().length} logical CPUs`,
    'onnxruntime-mha gets q/k/v transposed to [B, S, H*D] once at setup (not timed); its output is transposed back for the comparison',
    'dilbench times iterations inside native code; onnxruntime around the async run() call (its N-API and promise overhead, tens of microseconds, is included); PyTorch inside the subprocess',
    'all samplers are measured interleaved in seeded random order by the same engine, so machine drift affects all alike; samples are hot-cache for the non-dilbench frameworks (no LLC eviction hook)',
    'peak memory: dilbench from its memory pool (exact); others as growth of peak RSS (labelled rss-delta, approximate)',
  );
  const order = (f: FrameworkName) => o.frameworks.indexOf(f);
  points.sort((x, y) => x.seqLen - y.seqLen || order(x.framework) - order(y.framework));
  return {
    points,
    agreement,
    significance,
    fairness: {
      dtype: o.dtype,
      threads: o.threads,
      shapes: {
        batch: o.batch,
        heads: o.heads,
        headDim: o.headDim,
        seqLens: o.seqLens,
        causal: o.causal,
      },
      inputs: `seeded (seed ${o.seed}), identical for every framework`,
      versions,
      timing,
      notes,
    },
  };
}
