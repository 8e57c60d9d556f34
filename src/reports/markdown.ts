// Markdown view: environment, a table of every point, a pivot implementation x length of median
// time, and the best implementation per length.
import { familySections } from './family-sections.js';
import { pctOfPeakText } from '../roofline/index.js';
import { SENTINEL_MIN_MOVE_PCT, SENTINEL_NOISE_MULTIPLE } from '../measure/drift.js';
import type { ResultFile, ResultRow } from '../results/types.js';
import { nominalLabel } from '../config/ranges.js';
import { analyzeScaling } from '../stats/scaling.js';
import { describeGpuPeak } from '../roofline/index.js';
import { formatBytes, formatCount, formatGflops, formatLength, formatMs, markdownTable as table } from './format.js';
import { sideComparisonSections, sideLabeller } from './side-sections.js';

export function medianWithRange(r: ResultRow): string {
  if (!r.stats) return '-';
  return `${formatMs(r.stats.medianMs)} (${formatMs(r.stats.p10Ms)}-${formatMs(r.stats.p90Ms)})`;
}

/** Median with its bootstrap 95% confidence interval, or the p10-p90 range when there is none. */
export function medianWithCi(r: ResultRow): string {
  if (!r.stats) return '-';
  const ci = r.stats.medianCi95Ms;
  if (ci) return `${formatMs(r.stats.medianMs)} [${formatMs(ci[0])}, ${formatMs(ci[1])}]`;
  return `${formatMs(r.stats.medianMs)} (p10-p90 ${formatMs(r.stats.p10Ms)}-${formatMs(r.stats.p90Ms)})`;
}

/** Sample count and why sampling stopped: `42 (converged)`. */
export function samplesText(r: ResultRow): string {
  if (r.status !== 'ok') return '-';
  return r.stopReason ? `${r.samplesMs.length} (${r.stopReason})` : String(r.samplesMs.length);
}

export function statusText(r: ResultRow): string {
  if (r.status === 'ok') {
    const notes = [...(r.warnings ?? [])];
    if (r.effectiveSeqLen !== r.seqLen) notes.unshift(`ran at ${r.effectiveSeqLen}`);
    return notes.length ? `ok (${notes.join('; ')})` : 'ok';
  }
  return `${r.status}: ${r.reason ?? ''}${r.errorCode ? ` [${r.errorCode}]` : ''}`;
}

export function lengthLabel(n: number): string {
  const short = nominalLabel(n) ?? formatLength(n);
  return short === String(n) ? short : `${short} (${n})`;
}

/**
 * Implementations computing exact dense attention (attention-definitions.md): only these are ranked
 * against each other. dilated, dilated-grouped and block-sparse compute other functions, and
 * kv-cache without a causal mask is prefix-LM attention, so a "fastest" among them would compare
 * different computations.
 */
export function computesDenseAttention(r: Pick<ResultRow, 'implementation' | 'causal'>): boolean {
  // `dilbench frameworks` rows: dilbench's own as `dilbench:<impl>`, the others by framework name
  if (/^(onnxruntime-mha|onnxruntime-matmul|pytorch)$/.test(r.implementation)) return true;
  const impl = r.implementation.replace(/^dilbench:/, '');
  if (['naive', 'flash', 'ring'].includes(impl)) return true;
  return r.causal && (impl === 'kv-cache' || impl === 'kv-cache-recompute');
}

export const BEST_PER_LENGTH_NOTE =
  'ranked among implementations of exact dense attention (naive, flash, ring; kv-cache when causal; other frameworks\' attention); ' +
  'dilated, dilated-grouped and block-sparse compute other functions and are not ranked against them';

/**
 * Per length (and per device and dtype, when a run has several), the dense-attention ok row with
 * the highest tokens/s (fair when the planner lowered a batch).
 */
export function bestPerLength(rows: ResultRow[]): { seqLen: number; best: ResultRow; runnerUp?: ResultRow }[] {
  const byLen = new Map<string, ResultRow[]>();
  for (const r of rows) {
    if (r.status !== 'ok' || r.tokensPerSecond === null || !computesDenseAttention(r)) continue;
    const key = JSON.stringify([r.seqLen, r.device, r.dtype]);
    byLen.set(key, [...(byLen.get(key) ?? []), r]);
  }
  return [...byLen.values()]
    .map((list) => [list[0].seqLen, list] as const)
    .sort((a, b) => a[0] - b[0] || a[1][0].device.localeCompare(b[1][0].device) || a[1][0].dtype.localeCompare(b[1][0].dtype))
    .map(([seqLen, list]) => {
      const sorted = [...list].sort((a, b) => (b.tokensPerSecond ?? 0) - (a.tokensPerSecond ?? 0));
      return { seqLen, best: sorted[0], runnerUp: sorted[1] };
    });
}

export function toMarkdown(file: ResultFile): string {
  const env = file.environment;
  const cfg = file.config;
  const rows = [...file.results].sort((a, b) => a.seqLen - b.seqLen || a.implementation.localeCompare(b.implementation));
  // several devices or dtypes in one file (--compare-dtypes / --compare-devices): labels say which
  const label = sideLabeller(rows);
  const out: string[] = [];
  out.push(`# dilbench ${file.suite}`);
  out.push('');
  out.push(`Run \`${file.runId}\`, ${file.createdAt}${file.interrupted ? ' - **interrupted before all points ran**' : ''}.`);
  out.push('');
  out.push('## Environment');
  out.push('');
  out.push(
    [
      `- CPU: ${env.cpuModel} (${env.cpuCores} logical cores), SIMD level ${env.simdLevel}`,
      `- Memory: ${formatBytes(env.totalMemoryBytes)} total, ${formatBytes(env.freeMemoryBytes)} available at start`,
      `- OS: ${env.os}; Node ${env.nodeVersion}`,
      `- dilbench ${env.dilbenchVersion}${env.gitCommit ? ` (commit ${env.gitCommit.slice(0, 12)})` : ''}, native build ${env.buildType}`,
      ...gpuLines(env.gpu),
    ].join('\n'),
  );
  out.push('');
  out.push('## Configuration');
  out.push('');
  const cfgLine = (k: string, v: unknown) => (v === undefined ? null : `- ${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  out.push(
    [
      cfgLine('range', cfg.range),
      cfgLine('implementations', cfg.implementations),
      cfgLine('device / dtype', cfg.device !== undefined ? `${String(cfg.device)} / ${String(cfg.dtype ?? 'fp32')}` : undefined),
      cfgLine('device selection', (cfg.deviceSelection as { reason?: unknown } | undefined)?.reason),
      cfgLine('batch size (requested)', cfg.batchSize),
      cfgLine('heads / kv heads / head dim', cfg.heads !== undefined ? `${String(cfg.heads)} / ${String(cfg.kvHeads)} / ${String(cfg.headDim)}` : undefined),
      cfgLine('causal', cfg.causal),
      cfgLine('threads', cfg.threads),
      cfgLine('sampling', samplingLine(cfg)),
      cfgLine('memory budget', typeof cfg.memoryBudgetBytes === 'number' ? formatBytes(cfg.memoryBudgetBytes) : undefined),
      cfgLine('max seconds per point', cfg.maxRunSeconds),
      cfgLine('seed', cfg.seed),
    ]
      .filter((l): l is string => l !== null)
      .join('\n'),
  );
  out.push('');
  if (file.interference || file.driftSentinel) {
    out.push('## Interference');
    out.push('');
  }
  if (file.interference) {
    const t = file.interference.thresholds;
    out.push(
      `${file.interference.summary}. A point is flagged when, while it sampled, other processes used more than ${t.otherCpuPct}% of the CPUs, ` +
        `steal time exceeded ${t.stealPct}%, or the CPU clock fell below ${t.frequencyFraction * 100}% of its maximum; their status says "under contention".`,
    );
    out.push('');
  }
  if (file.driftSentinel) {
    out.push(
      `Drift: ${file.driftSentinel.summary}. The sentinel is a fixed FMA workload of a few ms run at the start, after every point and at the end; ` +
        `points next to a reading beyond ${SENTINEL_NOISE_MULTIPLE}x its start-up noise (at least ${SENTINEL_MIN_MOVE_PCT}%) say "drift" in their status.`,
    );
    out.push('');
  }
  out.push('## Results');
  out.push('');
  out.push(
    'Median time of one forward pass with its bootstrap 95% confidence interval in brackets (the 10th-90th percentile range where there is none); ' +
      'samples kept and why sampling stopped; memory is the peak measured by the memory pool (estimate from the planner for points that did not run). ' +
      'Warnings are listed under the table.',
  );
  out.push('');
  const hasRoofline = rows.some((r) => r.roofline);
  const noted = rows.filter((r) => r.warnings?.length);
  const noteIndex = new Map(noted.map((r, i) => [r, i + 1]));
  if (env.peak && rows.some((r) => r.roofline && r.device !== 'cuda')) {
    out.push(
      `% of peak: achieved GFLOP/s against the measured FP32 FMA peak of ${env.peak.fmaGflops.toFixed(1)} GFLOP/s ` +
        `(stream ${env.peak.streamGBps.toFixed(1)} GB/s, ${env.peak.threads} threads); bound by arithmetic intensity.`,
    );
    out.push('');
  }
  if (env.gpuPeak && rows.some((r) => r.roofline && r.device === 'cuda')) {
    out.push(
      `% of peak (cuda rows): achieved GFLOP/s against the GPU peak of the row's dtype, measured by \`dilbench peak\` on ${describeGpuPeak(env.gpuPeak)}; bound by arithmetic intensity.`,
    );
    out.push('');
  }
  out.push(
    table(
      [
        'Length', 'Implementation', 'Batch', 'Median ms [95% CI]', 'Samples (stop)', 'Cold start ms', 'Peak memory', 'Tokens/s', 'GFLOP/s',
        ...(hasRoofline ? ['% of peak', 'Bound'] : []),
        'Status',
      ],
      rows.map((r) => [
        lengthLabel(r.seqLen),
        label(r),
        r.requestedBatch !== undefined && r.requestedBatch !== r.batch ? `${r.batch} (asked ${r.requestedBatch})` : String(r.batch),
        medianWithCi(r),
        samplesText(r),
        r.coldStartMs !== undefined ? formatMs(r.coldStartMs) : '-',
        r.peakMemoryBytes !== null ? formatBytes(r.peakMemoryBytes) : r.estimatedMemoryBytes > 0 ? `~${formatBytes(r.estimatedMemoryBytes)} est.` : '-',
        formatCount(r.tokensPerSecond),
        formatGflops(r.gflops),
        ...(hasRoofline ? [r.roofline ? pctOfPeakText(r.roofline) : '-', r.roofline?.bound ?? '-'] : []),
        shortStatus(r, noteIndex.get(r)),
      ]),
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', ...(hasRoofline ? (['r', 'l'] as const) : []), 'l'],
    ),
  );
  out.push('');
  if (noted.length) {
    out.push('## Warnings and notes');
    out.push('');
    for (const [i, r] of noted.entries()) {
      out.push(`${i + 1}. ${label(r)} @ ${lengthLabel(r.seqLen)}: ${(r.warnings ?? []).join('; ')}`);
    }
    out.push('');
  }
  const overPeak = rows.filter((r) => r.roofline?.overPeakNote);
  if (overPeak.length) {
    out.push('## Over 100% of peak');
    out.push('');
    for (const r of overPeak) out.push(`- ${label(r)} @ ${lengthLabel(r.seqLen)}: ${r.roofline!.overPeakNote}`);
    out.push('');
  }

  const lengths = [...new Set(rows.map((r) => r.seqLen))].sort((a, b) => a - b);
  const impls = [...new Set(rows.map(label))].sort();
  if (lengths.length && impls.length) {
    out.push('## Median ms by implementation and length');
    out.push('');
    out.push(
      table(
        ['Implementation', ...lengths.map((n) => nominalLabel(n) ?? formatLength(n))],
        impls.map((impl) => [
          impl,
          ...lengths.map((n) => {
            const r = rows.find((x) => label(x) === impl && x.seqLen === n);
            if (!r) return '';
            return r.status === 'ok' ? medianWithRange(r) : r.status;
          }),
        ]),
        ['l', ...lengths.map(() => 'r' as const)],
      ),
    );
    out.push('');
  }

  out.push(...sideComparisonSections(file));
  out.push(...scalingSection(rows));
  out.push(...familySections(rows));

  const best = bestPerLength(rows);
  out.push('## Best implementation per length');
  out.push('');
  out.push(`_${BEST_PER_LENGTH_NOTE[0].toUpperCase()}${BEST_PER_LENGTH_NOTE.slice(1)}._`);
  out.push('');
  if (best.length === 0) {
    out.push('No dense-attention point ran successfully.');
  } else {
    out.push(
      table(
        ['Length', 'Best', 'Median ms', 'Tokens/s', 'Runner-up', 'Speedup'],
        best.map(({ seqLen, best: b, runnerUp }) => [
          lengthLabel(seqLen),
          label(b),
          formatMs(b.stats?.medianMs),
          formatCount(b.tokensPerSecond),
          runnerUp ? label(runnerUp) : '-',
          runnerUp?.tokensPerSecond ? `${((b.tokensPerSecond ?? 0) / runnerUp.tokensPerSecond).toFixed(2)}x` : '-',
        ]),
        ['r', 'l', 'r', 'r', 'l', 'r'],
      ),
    );
  }
  out.push('');
  const counts = { ok: 0, skipped: 0, failed: 0 };
  for (const r of rows) counts[r.status]++;
  out.push(`${rows.length} points: ${counts.ok} ok, ${counts.skipped} skipped, ${counts.failed} failed.`);
  out.push('');
  return out.join('\n');
}

/** "- GPU 0: NAME, compute capability 9.0, 80.0 GiB, SM clock 1980 MHz, driver X, CUDA runtime Y" per recorded device. */
export function gpuLines(gpu: unknown): string[] {
  if (!Array.isArray(gpu)) return [];
  return gpu
    .filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && typeof (d as { name?: unknown }).name === 'string')
    .map((d) => {
      const parts = [String(d.name)];
      if (typeof d.computeCapability === 'string') parts.push(`compute capability ${d.computeCapability}`);
      if (typeof d.totalMemoryBytes === 'number') parts.push(formatBytes(d.totalMemoryBytes));
      if (typeof d.smClockMHz === 'number') parts.push(`SM clock ${d.smClockMHz} MHz`);
      if (typeof d.driverVersion === 'string') parts.push(`driver ${d.driverVersion}`);
      if (typeof d.runtimeVersion === 'string') parts.push(`CUDA runtime ${d.runtimeVersion}`);
      return `- GPU ${typeof d.index === 'number' ? d.index : 0}: ${parts.join(', ')}`;
    });
}

function shortStatus(r: ResultRow, note: number | undefined): string {
  if (r.status !== 'ok') return statusText(r);
  const parts: string[] = [];
  if (r.effectiveSeqLen !== r.seqLen) parts.push(`ran at ${r.effectiveSeqLen}`);
  if (r.interference?.flagged) parts.push('under contention');
  if (r.drift?.flagged) parts.push(`drift ${r.drift.movePct > 0 ? '+' : ''}${r.drift.movePct}%`);
  if (note !== undefined) parts.push(`see note ${note}`);
  return parts.length ? `ok (${parts.join('; ')})` : 'ok';
}

function samplingLine(cfg: Record<string, unknown>): string | undefined {
  if (cfg.warmup === undefined && cfg.sampling === undefined) return undefined;
  const warm = cfg.warmup === 'adaptive' ? 'adaptive warm-up' : `${String(cfg.warmup)} warm-up iterations`;
  const cache = cfg.cacheMode === 'cold' ? 'cold cache' : cfg.cacheMode === 'hot' ? 'hot cache' : null;
  const extra = [cache, cfg.interleave === true ? 'implementations interleaved' : null].filter(Boolean).join(', ');
  const tail = extra ? `; ${extra}` : '';
  if (cfg.sampling === 'adaptive') {
    const rse = typeof cfg.targetRse === 'number' ? `${(cfg.targetRse * 100).toFixed(2).replace(/\.?0+$/, '')}%` : '?';
    return (
      `${warm}, then adaptive: until the relative standard error of the mean <= ${rse} ` +
      `(min ${String(cfg.minSamples)}, max ${String(cfg.maxSamples)} samples, at most ${String(cfg.maxTimeSeconds)} s per point)${tail}`
    );
  }
  return `${warm}, ${String(cfg.runs)} timed iterations (fixed)${tail}`;
}

function fmtK(k: number): string {
  return k.toFixed(2);
}

/** Scaling laws (time ~ a * N^k, best of N / N log N / N^2) and crossovers, when >= 3 lengths ran. */
export function scalingSection(rows: ResultRow[]): string[] {
  const okLengths = new Set(rows.filter((r) => r.status === 'ok' && r.stats).map((r) => r.effectiveSeqLen ?? r.seqLen));
  if (okLengths.size < 3) return [];
  const analysis = analyzeScaling(rows);
  const series = analysis.series.filter((s) => s.powerLaw).sort((a, b) => a.group.localeCompare(b.group) || a.implementation.localeCompare(b.implementation));
  if (series.length === 0) return [];
  const manyGroups = new Set(series.map((s) => s.group)).size > 1;
  const out: string[] = [];
  out.push('## Scaling with sequence length');
  out.push('');
  out.push(
    'Least-squares fit of median time ~ a * N^k on log-log per implementation, with the 95% interval of k ' +
      '(t-distribution; needs 3 lengths), and the best of N, N log N and N^2 by normalised RMS.',
  );
  out.push('');
  out.push(
    table(
      [...(manyGroups ? ['Configuration'] : []), 'Implementation', 'Lengths', 'k [95% CI]', 'R^2', 'Best complexity', 'nRMS'],
      series.map((s) => {
        const pl = s.powerLaw!;
        const best = s.complexity?.best;
        return [
          ...(manyGroups ? [s.group] : []),
          s.implementation,
          String(pl.points),
          pl.kCi95 ? `${fmtK(pl.k)} [${fmtK(pl.kCi95[0])}, ${fmtK(pl.kCi95[1])}]` : fmtK(pl.k),
          pl.r2.toFixed(3),
          best ?? '-',
          best && s.complexity ? s.complexity.models[best].nrms.toFixed(3) : '-',
        ];
      }),
      [...(manyGroups ? (['l'] as const) : []), 'l', 'r', 'r', 'r', 'l', 'r'],
    ),
  );
  out.push('');
  out.push('### Crossover lengths');
  out.push('');
  if (analysis.crossovers.length === 0) {
    out.push('No implementation overtakes another within the measured lengths.');
  } else {
    for (const c of analysis.crossovers) {
      out.push(
        `- ${c.fasterAbove} overtakes ${c.fasterBelow} at N ~ ${Math.round(c.n)} ` +
          `(between ${lengthLabel(c.between[0])} and ${lengthLabel(c.between[1])})${manyGroups ? ` [${c.group}]` : ''}`,
      );
    }
  }
  out.push('');
  return out;
}
