// Markdown view, answer first: per length the fastest exact attention (or the tie), then the
// table of medians, every point, and the details (notes, telemetry, projections, environment)
// folded into <details> a reader can skip.
import { answerMarkdown } from './answer.js';
import { familySections } from './family-sections.js';
import { pctOfPeakText } from '../roofline/index.js';
import { SENTINEL_MIN_MOVE_PCT, SENTINEL_NOISE_MULTIPLE } from '../measure/drift.js';
import { displayStatus } from '../results/ranking.js';
import type { ResultFile, ResultRow } from '../results/types.js';
import { nominalLabel } from '../config/ranges.js';
import {
  analyzeScaling,
  complexitiesInInterval,
  complexityExponents,
  scalingGroup,
  type ScalingSeries,
} from '../stats/scaling.js';
import { describeGpuPeak } from '../roofline/index.js';
import {
  formatBytes,
  formatCount,
  formatGflops,
  formatLength,
  formatMs,
  markdownTable as table,
} from './format.js';
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

export function toMarkdown(file: ResultFile): string {
  const env = file.environment;
  const cfg = file.config;
  const rows = [...file.results].sort(
    (a, b) => a.seqLen - b.seqLen || a.implementation.localeCompare(b.implementation),
  );
  // several devices or dtypes in one file (--compare-dtypes / --compare-devices): labels say which
  const sideLabel = sideLabeller(rows);
  // whole-model commands (inference, scaling): a point is a request in a mode on a prompt
  const label = (r: ResultRow): string => {
    const what = [r.model?.mode, r.model?.prompt].filter(Boolean).join(', ');
    return what ? `${sideLabel(r)} [${what}]` : sideLabel(r);
  };
  const timed = file.command
    ? 'one request (the prompt forward and every generated token)'
    : 'one forward pass';
  const out: string[] = [];
  const counts: Record<string, number> = { ok: 0, skipped: 0, failed: 0, interrupted: 0 };
  for (const r of rows) counts[displayStatus(r)] = (counts[displayStatus(r)] ?? 0) + 1;
  out.push(`# dilbench ${file.suite}`);
  out.push('');
  out.push(
    `${file.createdAt} on ${env.cpuModel} (${env.cpuCores} logical cores, ${env.simdLevel}${rows[0] ? `, ${rows[0].threads} threads` : ''}): ` +
      `${rows.length} points, ${counts.ok} ok, ${counts.skipped} skipped, ${counts.failed} failed${counts.interrupted ? `, ${counts.interrupted} interrupted` : ''}. ` +
      `Run \`${file.runId}\`.`,
  );
  if (file.interrupted) out.push('', '**Interrupted before all points ran.**');
  out.push('');
  out.push(...answerMarkdown(file));

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

  const lengths = [...new Set(rows.map((r) => r.seqLen))].sort((a, b) => a - b);
  const impls = [...new Set(rows.map(label))].sort();
  if (lengths.length && impls.length) {
    out.push('## Median ms by implementation and length');
    out.push('');
    out.push(
      `Median time of ${timed} (10th-90th percentile); the batch of a point is in the table below.`,
    );
    out.push('');
    out.push(
      table(
        ['Implementation', ...lengths.map((n) => nominalLabel(n) ?? formatLength(n))],
        impls.map((impl) => [
          impl,
          ...lengths.map((n) => {
            const r = rows.find((x) => label(x) === impl && x.seqLen === n);
            if (!r) return '';
            return r.status === 'ok' ? medianWithRange(r) : displayStatus(r);
          }),
        ]),
        ['l', ...lengths.map(() => 'r' as const)],
      ),
    );
    out.push('');
  }

  out.push('## Results');
  out.push('');
  out.push(
    `Median time of ${timed} with its bootstrap 95% confidence interval in brackets (the 10th-90th percentile range where there is none); ` +
      'samples kept and why sampling stopped; memory is the peak measured by the memory pool (estimate from the planner for points that did not run). ' +
      'Notes are under "Warnings and notes" below.',
  );
  out.push('');
  const hasRoofline = rows.some((r) => r.roofline);
  const hasRing =
    new Set(rows.map((r) => r.params?.['ringSize']).filter((v) => v !== undefined)).size > 1;
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
        'Length',
        'Implementation',
        ...(hasRing ? ['P'] : []),
        'Batch',
        'Median ms [95% CI]',
        'Samples (stop)',
        'Cold start ms',
        'Peak memory',
        'Tokens/s',
        'GFLOP/s',
        ...(hasRoofline ? ['% of peak', 'Bound'] : []),
        'Status',
      ],
      rows.map((r) => [
        lengthLabel(r.seqLen),
        label(r),
        ...(hasRing
          ? [r.params?.['ringSize'] !== undefined ? String(r.params['ringSize']) : '-']
          : []),
        r.requestedBatch !== undefined && r.requestedBatch !== r.batch
          ? `${r.batch} (asked ${r.requestedBatch})`
          : String(r.batch),
        medianWithCi(r),
        samplesText(r),
        r.coldStartMs !== undefined ? formatMs(r.coldStartMs) : '-',
        r.peakMemoryBytes !== null
          ? formatBytes(r.peakMemoryBytes)
          : r.estimatedMemoryBytes > 0
            ? `~${formatBytes(r.estimatedMemoryBytes)} est.`
            : '-',
        formatCount(r.tokensPerSecond),
        formatGflops(r.gflops),
        ...(hasRoofline
          ? [r.roofline ? pctOfPeakText(r.roofline) : '-', r.roofline?.bound ?? '-']
          : []),
        shortStatus(r, noteIndex.get(r)),
      ]),
      [
        'r',
        'l',
        ...(hasRing ? (['r'] as const) : []),
        'r',
        'r',
        'r',
        'r',
        'r',
        'r',
        'r',
        ...(hasRoofline ? (['r', 'l'] as const) : []),
        'l',
      ],
    ),
  );
  out.push('');
  const overPeak = rows.filter((r) => r.roofline?.overPeakNote);
  if (overPeak.length) {
    out.push('## Over 100% of peak');
    out.push('');
    for (const r of overPeak)
      out.push(`- ${label(r)} @ ${lengthLabel(r.seqLen)}: ${r.roofline!.overPeakNote}`);
    out.push('');
  }

  out.push(...sideComparisonSections(file));
  out.push(...scalingSection(rows));
  // validation is the answer of quick-validation: open; the optimization and ring details: folded
  const family = familySections(rows);
  out.push(...family);

  const folded = (summary: string, body: string[]): string[] =>
    body.length
      ? ['<details>', `<summary>${summary}</summary>`, '', ...body, '</details>', '']
      : [];
  if (noted.length) {
    out.push(
      ...folded(`Warnings and notes (${noted.length} point${noted.length === 1 ? '' : 's'})`, [
        '## Warnings and notes',
        '',
        ...noted.map(
          (r, i) =>
            `${i + 1}. ${label(r)} @ ${lengthLabel(r.seqLen)}: ${(r.warnings ?? []).join('; ')}`,
        ),
        '',
      ]),
    );
  }
  const cfgLine = (k: string, v: unknown) =>
    v === undefined ? null : `- ${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`;
  out.push(
    ...folded('Environment and configuration', [
      '## Environment',
      '',
      [
        `- CPU: ${env.cpuModel} (${env.cpuCores} logical cores), SIMD level ${env.simdLevel}`,
        `- Memory: ${formatBytes(env.totalMemoryBytes)} total, ${formatBytes(env.freeMemoryBytes)} available at start`,
        `- OS: ${env.os}; Node ${env.nodeVersion}`,
        `- dilbench ${env.dilbenchVersion}${env.gitCommit ? ` (commit ${env.gitCommit.slice(0, 12)})` : ''}, native build ${env.buildType}`,
        ...gpuLines(env.gpu),
      ].join('\n'),
      '',
      '## Configuration',
      '',
      [
        cfgLine('range', cfg.range),
        cfgLine('implementations', cfg.implementations),
        cfgLine(
          'device / dtype',
          cfg.device !== undefined
            ? `${String(cfg.device)} / ${String(cfg.dtype ?? 'fp32')}`
            : undefined,
        ),
        cfgLine(
          'device selection',
          (cfg.deviceSelection as { reason?: unknown } | undefined)?.reason,
        ),
        cfgLine('batch size (requested)', cfg.batchSize),
        cfgLine(
          'heads / kv heads / head dim',
          cfg.heads !== undefined
            ? `${String(cfg.heads)} / ${String(cfg.kvHeads)} / ${String(cfg.headDim)}`
            : undefined,
        ),
        cfgLine('causal', cfg.causal),
        cfgLine('threads', cfg.threads),
        cfgLine('sampling', samplingLine(cfg)),
        cfgLine(
          'memory budget',
          typeof cfg.memoryBudgetBytes === 'number'
            ? formatBytes(cfg.memoryBudgetBytes)
            : undefined,
        ),
        cfgLine('max seconds per point', cfg.maxRunSeconds),
        cfgLine('seed', cfg.seed),
      ]
        .filter((l): l is string => l !== null)
        .join('\n'),
      '',
    ]),
  );
  return out.join('\n');
}

/** "- GPU 0: NAME, compute capability 9.0, 80.0 GiB, SM clock 1980 MHz, driver X, CUDA runtime Y" per recorded device. */
export function gpuLines(gpu: unknown): string[] {
  if (!Array.isArray(gpu)) return [];
  return gpu
    .filter(
      (d): d is Record<string, unknown> =>
        typeof d === 'object' && d !== null && typeof (d as { name?: unknown }).name === 'string',
    )
    .map((d) => {
      const parts = [String(d.name)];
      if (typeof d.computeCapability === 'string')
        parts.push(`compute capability ${d.computeCapability}`);
      if (typeof d.totalMemoryBytes === 'number') parts.push(formatBytes(d.totalMemoryBytes));
      if (typeof d.smClockMHz === 'number') parts.push(`SM clock ${d.smClockMHz} MHz`);
      if (typeof d.driverVersion === 'string') parts.push(`driver ${d.driverVersion}`);
      if (typeof d.runtimeVersion === 'string') parts.push(`CUDA runtime ${d.runtimeVersion}`);
      return `- GPU ${typeof d.index === 'number' ? d.index : 0}: ${parts.join(', ')}`;
    });
}

function shortStatus(r: ResultRow, note: number | undefined): string {
  if (r.status !== 'ok') return displayStatus(r) === 'interrupted' ? 'interrupted' : statusText(r);
  const parts: string[] = [];
  if (r.effectiveSeqLen !== r.seqLen) parts.push(`ran at ${r.effectiveSeqLen}`);
  if (r.interference?.flagged) parts.push('under contention');
  if (r.drift?.flagged) parts.push(`drift ${r.drift.movePct > 0 ? '+' : ''}${r.drift.movePct}%`);
  if (note !== undefined) parts.push(`see note ${note}`);
  return parts.length ? `ok (${parts.join('; ')})` : 'ok';
}

function samplingLine(cfg: Record<string, unknown>): string | undefined {
  if (cfg.warmup === undefined && cfg.sampling === undefined) return undefined;
  const warm =
    cfg.warmup === 'adaptive' ? 'adaptive warm-up' : `${String(cfg.warmup)} warm-up iterations`;
  const cache =
    cfg.cacheMode === 'cold' ? 'cold cache' : cfg.cacheMode === 'hot' ? 'hot cache' : null;
  const extra = [cache, cfg.interleave === true ? 'implementations interleaved' : null]
    .filter(Boolean)
    .join(', ');
  const tail = extra ? `; ${extra}` : '';
  if (cfg.sampling === 'adaptive') {
    const rse =
      typeof cfg.targetRse === 'number'
        ? `${(cfg.targetRse * 100).toFixed(2).replace(/\.?0+$/, '')}%`
        : '?';
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

/** "N^2", "N or N log N (the interval cannot tell them apart)", "none of N, N log N, N^2 (k = 1.45)". */
function complexityText(s: ScalingSeries): string {
  const pl = s.powerLaw;
  const first = s.points[0];
  const last = s.points.at(-1);
  if (!pl?.kCi95 || s.points.length < 3 || !first || !last) return '- (needs 3 lengths)';
  const n1 = first.n;
  const n2 = last.n;
  const names = complexitiesInInterval(pl, n1, n2);
  const [only, ...others] = names;
  if (only !== undefined && others.length === 0) return only;
  if (names.length > 1) return `${names.join(' or ')} (interval too wide to tell)`;
  const ex = complexityExponents(n1, n2);
  const below = (Object.keys(ex) as (keyof typeof ex)[]).filter((c) => ex[c] < pl.kCi95![0]).pop();
  const above = (Object.keys(ex) as (keyof typeof ex)[]).find((c) => ex[c] > pl.kCi95![1]);
  return below && above
    ? `between ${below} and ${above}`
    : below
      ? `steeper than ${below}`
      : `flatter than ${above ?? 'N'}`;
}

/** Whether a's and b's median intervals at length n are apart (both rows ok with an interval). */
function separatedAt(rows: ResultRow[], group: string, a: string, b: string, n: number): boolean {
  const at = (impl: string) =>
    rows.find(
      (r) =>
        r.implementation === impl &&
        (r.effectiveSeqLen ?? r.seqLen) === n &&
        r.status === 'ok' &&
        scalingGroup(r) === group,
    );
  const ca = at(a)?.stats?.medianCi95Ms;
  const cb = at(b)?.stats?.medianCi95Ms;
  return !!ca && !!cb && (ca[1] < cb[0] || cb[1] < ca[0]);
}

/**
 * Scaling laws (time ~ a * N^k with k's 95% interval; the complexity named only when that
 * interval singles it out) and crossovers (claimed only where the two intervals are apart at both
 * bracketing lengths), when >= 3 lengths ran.
 */
export function scalingSection(rows: ResultRow[]): string[] {
  const okLengths = new Set(
    rows.filter((r) => r.status === 'ok' && r.stats).map((r) => r.effectiveSeqLen ?? r.seqLen),
  );
  if (okLengths.size < 3) return [];
  const analysis = analyzeScaling(rows);
  const series = analysis.series
    .filter((s) => s.powerLaw)
    .sort(
      (a, b) => a.group.localeCompare(b.group) || a.implementation.localeCompare(b.implementation),
    );
  if (series.length === 0) return [];
  const manyGroups = new Set(series.map((s) => s.group)).size > 1;
  const out: string[] = [];
  out.push('## Scaling with sequence length');
  out.push('');
  out.push(
    'Least-squares fit of median time ~ a * N^k on log-log per implementation, with the 95% interval of k ' +
      '(t-distribution; needs 3 lengths). A complexity is named only when its exponent over the measured lengths ' +
      '(N: 1, N log N: about 1.1, N^2: 2) is the only one inside that interval.',
  );
  out.push('');
  out.push(
    table(
      [
        ...(manyGroups ? ['Configuration'] : []),
        'Implementation',
        'Lengths',
        'k [95% CI]',
        'R^2',
        'Complexity',
      ],
      series.map((s) => {
        const pl = s.powerLaw!;
        return [
          ...(manyGroups ? [s.group] : []),
          s.implementation,
          String(pl.points),
          pl.kCi95 ? `${fmtK(pl.k)} [${fmtK(pl.kCi95[0])}, ${fmtK(pl.kCi95[1])}]` : fmtK(pl.k),
          pl.r2.toFixed(3),
          complexityText(s),
        ];
      }),
      [...(manyGroups ? (['l'] as const) : []), 'l', 'r', 'r', 'r', 'l'],
    ),
  );
  out.push('');
  out.push('### Crossover lengths');
  out.push('');
  const claimed = analysis.crossovers.filter(
    (c) =>
      separatedAt(rows, c.group, c.a, c.b, c.between[0]) &&
      separatedAt(rows, c.group, c.a, c.b, c.between[1]),
  );
  const noise = analysis.crossovers.length - claimed.length;
  if (claimed.length === 0) {
    out.push(
      'No implementation overtakes another within the measured lengths with intervals apart on both sides.',
    );
  } else {
    for (const c of claimed) {
      out.push(
        `- ${c.fasterAbove} overtakes ${c.fasterBelow} at N ~ ${Math.round(c.n)} ` +
          `(between ${lengthLabel(c.between[0])} and ${lengthLabel(c.between[1])}; 95% intervals apart at both)${manyGroups ? ` [${c.group}]` : ''}`,
      );
    }
  }
  if (noise > 0) {
    out.push('');
    out.push(
      `${noise} apparent crossover${noise === 1 ? '' : 's'} of the medians ${noise === 1 ? 'is' : 'are'} not claimed: the 95% intervals overlap at one of the bracketing lengths.`,
    );
  }
  out.push('');
  return out;
}
