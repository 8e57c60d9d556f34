// The bench sections that put dilbench beside other frameworks, each point's sides sampled
// interleaved by the engine (src/bench/record.ts), the time ratios from the stats:
// - frameworks: flash vs onnxruntime-node's MultiHeadAttention (and PyTorch's
//   scaled_dot_product_attention where it imports) at 4K, 8K, 16K: GFLOP/s and the time ratios;
// - dilated-vs-torch: dilated and dilated-grouped against their PyTorch implementations
//   (src/frameworks/python/torch_dilated.py) and flash, at 8K: median ms, the torch/dilbench time
//   ratio, GFLOP/s (useful FLOPs) and % of flash's GFLOP/s.
import type { NativeBinding, NativePeak } from '../native/binding.js';
import type {
  DilatedTorchResult,
  DilatedTorchRow,
  FrameworkBenchResult,
  FrameworkBenchRow,
} from '../results/types.js';
import { FOREIGN_SETTLE_MS, outputDifference } from '../frameworks/compare.js';
import { PyTorchAdapter, torchUnavailableReason } from '../frameworks/pytorch.js';
import { DilbenchAdapter } from '../frameworks/dilbench.js';
import { OnnxRuntimeAdapter } from '../frameworks/onnxruntime.js';
import { attentionFlops, isSkip, type FrameworkSpec } from '../frameworks/types.js';
import {
  BenchRecord,
  benchProblem,
  type BenchSide,
  type SectionOptions,
  type SideProblem,
} from './record.js';

export type { DilatedTorchResult, DilatedTorchRow, FrameworkBenchResult, FrameworkBenchRow };

/** Every framework point of the bench: flash, batch 1, 8 heads, headDim 64, not causal, fp32, seed 42. */
function benchSpec(seqLen: number, threads: number): FrameworkSpec {
  const p = benchProblem('flash', seqLen);
  return {
    batch: p.batch,
    heads: p.heads,
    seqLen,
    headDim: p.headDim,
    causal: p.causal,
    threads,
    implementation: p.implementation,
    dtype: 'fp32',
    seed: p.seed,
  };
}

/** A framework side's row problem: the spec's shape, `flops` per sample. */
function specProblem(
  spec: FrameworkSpec,
  implementation: string,
  flops: number,
  simdLevel: SideProblem['simdLevel'],
  params: Record<string, unknown> = {},
): SideProblem {
  return {
    implementation,
    dtype: spec.dtype,
    batch: spec.batch,
    heads: spec.heads,
    kvHeads: spec.heads,
    headDim: spec.headDim,
    seqLen: spec.seqLen,
    causal: spec.causal,
    flops,
    bytes: 0,
    simdLevel,
    params: {
      ...(spec.segmentLengths ? { segmentLengths: spec.segmentLengths } : {}),
      ...(spec.dilationRates ? { dilationRates: spec.dilationRates } : {}),
      ...params,
    },
  };
}

export const FRAMEWORK_LENGTHS = [4096, 8192, 16384];

export async function runFrameworkSection(
  binding: NativeBinding,
  peak: NativePeak,
  opts: SectionOptions & {
    lengths?: number[];
  },
): Promise<FrameworkBenchResult> {
  const record = opts.record ?? new BenchRecord(opts.threads);
  const { simdLevel, detectedSimdLevel } = binding.info();
  const rows: FrameworkBenchRow[] = [];
  let version: string | undefined;
  let torchVersion: string | undefined;
  let torchCpuCapability: string | null | undefined;
  let torchSkipped = torchUnavailableReason() ?? undefined;
  let ortSkipped: string | undefined;
  await record.eachPoint(opts.lengths ?? FRAMEWORK_LENGTHS, async (seqLen) => {
    if (ortSkipped) return;
    const spec = benchSpec(seqLen, opts.threads);
    opts.log?.(`flash vs onnxruntime-node MultiHeadAttention @ ${seqLen} (interleaved)...`);
    const flash = await DilbenchAdapter.create(binding, spec);
    const ort = await OnnxRuntimeAdapter.create(spec, flash.inputs(), 'mha');
    const created = torchSkipped ? null : await PyTorchAdapter.create(spec, flash.inputs());
    if (created && isSkip(created)) torchSkipped = created.reason;
    const torch = created && !isSkip(created) ? created : null;
    try {
      if ('skipped' in ort) {
        ortSkipped = ort.reason;
        return;
      }
      version = ort.version;
      const flops = attentionFlops(spec);
      const sides: BenchSide[] = [
        {
          name: 'flash',
          sampler: flash.sampler,
          problem: specProblem(spec, 'flash', flash.flops, simdLevel),
        },
        {
          name: 'onnxruntime-mha',
          sampler: ort.sampler,
          problem: specProblem(spec, 'onnxruntime-mha', flops, null, { version: ort.version }),
        },
      ];
      if (torch) {
        sides.push({
          name: 'pytorch',
          sampler: torch.sampler,
          problem: specProblem(spec, 'pytorch', flops, null, { version: torch.version }),
        });
        torchVersion = torch.version;
        torchCpuCapability = torch.cpuCapability;
      }
      const ms = await record.sample({
        section: 'frameworks',
        seqLen,
        sides,
        sampling: { warmup: opts.warmup ?? 2, runs: opts.runs ?? 5, settleMs: FOREIGN_SETTLE_MS },
      });
      const f = ms.get('flash')!;
      const o = ms.get('onnxruntime-mha')!;
      const t = ms.get('pytorch');
      const a = await flash.output();
      const maxAbs = outputDifference(await ort.output(), a).maxAbsError;
      const flashGflops = flops / (f.stats.medianMs / 1000) / 1e9;
      const torchOut = torch ? await torch.output() : null;
      const flashSide = { name: 'flash', m: f };
      rows.push({
        seqLen,
        flashMedianMs: f.stats.medianMs,
        flashGflops,
        ortMedianMs: o.stats.medianMs,
        ortGflops: flops / (o.stats.medianMs / 1000) / 1e9,
        ratio: o.stats.medianMs / f.stats.medianMs,
        significance: record.ratio('frameworks', seqLen, flashSide, {
          name: 'onnxruntime-mha',
          m: o,
        }),
        maxAbsError: maxAbs,
        flashPctOfPeak: (100 * flashGflops) / peak.fmaGflops,
        torchMedianMs: t ? t.stats.medianMs : null,
        torchGflops: t ? flops / (t.stats.medianMs / 1000) / 1e9 : null,
        torchRatio: t ? t.stats.medianMs / f.stats.medianMs : null,
        torchSignificance: t
          ? record.ratio('frameworks', seqLen, flashSide, { name: 'pytorch', m: t })
          : null,
        torchMaxAbsError: torchOut ? outputDifference(torchOut, a).maxAbsError : null,
      });
    } finally {
      await flash.dispose();
      if (!('skipped' in ort)) await ort.dispose();
      await torch?.dispose();
    }
  });
  if (ortSkipped) return { rows, skipped: ortSkipped, torchSkipped, simdLevel, detectedSimdLevel };
  return {
    rows,
    version,
    torchVersion,
    torchSkipped,
    simdLevel,
    detectedSimdLevel,
    torchCpuCapability,
  };
}

// ---- dilated / dilated-grouped vs their PyTorch implementations, and flash -----------------------

export const DILATED_TORCH_PAIRS = { segmentLengths: [1024, 2048, 4096], dilationRates: [1, 2, 4] };

export async function runDilatedTorchSection(
  binding: NativeBinding,
  opts: SectionOptions & {
    seqLen?: number;
  },
): Promise<DilatedTorchResult> {
  const record = opts.record ?? new BenchRecord(opts.threads);
  const seqLen = opts.seqLen ?? 8192;
  const base: FrameworkSpec = { ...benchSpec(seqLen, opts.threads), ...DILATED_TORCH_PAIRS };
  const result: DilatedTorchResult = {
    seqLen,
    heads: base.heads,
    ...DILATED_TORCH_PAIRS,
    rows: [],
    simdLevel: binding.info().simdLevel,
    torchSkipped: torchUnavailableReason() ?? undefined,
  };
  const kinds = ['dilated', 'dilated-grouped'] as const;
  opts.log?.(`dilated, dilated-grouped vs PyTorch, and flash @ ${seqLen} (interleaved)...`);
  const ours = new Map<string, DilbenchAdapter>();
  const torch = new Map<string, PyTorchAdapter>();
  try {
    for (const implementation of ['flash', ...kinds])
      ours.set(implementation, await DilbenchAdapter.create(binding, { ...base, implementation }));
    const inputs = ours.get('flash')!.inputs();
    for (const implementation of kinds) {
      if (result.torchSkipped) break;
      const created = await PyTorchAdapter.create(
        { ...base, implementation },
        inputs,
        implementation,
      );
      if (isSkip(created)) result.torchSkipped = created.reason;
      else {
        torch.set(implementation, created);
        result.torchVersion = created.version;
        result.torchCpuCapability = created.cpuCapability;
      }
    }
    const simdLevel = binding.info().simdLevel;
    const sides: BenchSide[] = [];
    for (const [name, a] of ours) {
      const spec = { ...base, implementation: name };
      sides.push({
        name,
        sampler: a.sampler,
        problem: specProblem(spec, name, a.flops, simdLevel),
      });
    }
    for (const [name, a] of torch) {
      const spec = { ...base, implementation: name };
      const flops = ours.get(name)!.flops;
      sides.push({
        name: `torch ${name}`,
        sampler: a.sampler,
        problem: specProblem(spec, `torch ${name}`, flops, null, { version: a.version }),
      });
    }
    const ms = await record.sample({
      section: 'dilated-vs-torch',
      seqLen,
      sides,
      sampling: { warmup: opts.warmup ?? 2, runs: opts.runs ?? 5, settleMs: FOREIGN_SETTLE_MS },
    });
    const gflopsOf = (name: string, medianMs: number) =>
      ours.get(name)!.flops / (medianMs / 1000) / 1e9;
    const flashMs = ms.get('flash')!.stats.medianMs;
    const flashGflops = gflopsOf('flash', flashMs);
    for (const [name, a] of ours) {
      const m = ms.get(name)!;
      const t = ms.get(`torch ${name}`);
      const tAdapter = torch.get(name);
      const gflops = gflopsOf(name, m.stats.medianMs);
      result.rows.push({
        implementation: name,
        medianMs: m.stats.medianMs,
        gflops,
        pctOfFlash: (100 * gflops) / flashGflops,
        torchMedianMs: t ? t.stats.medianMs : null,
        torchGflops: t ? gflopsOf(name, t.stats.medianMs) : null,
        torchRatio: t ? t.stats.medianMs / m.stats.medianMs : null,
        torchSignificance: t
          ? record.ratio('dilated-vs-torch', seqLen, { name, m }, { name: `torch ${name}`, m: t })
          : null,
        torchMaxAbsError: tAdapter
          ? outputDifference(await tAdapter.output(), await a.output()).maxAbsError
          : null,
      });
    }
  } finally {
    for (const a of ours.values()) await a.dispose();
    for (const a of torch.values()) await a.dispose();
  }
  return result;
}
