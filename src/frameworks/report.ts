// FrameworksReport -> the one result schema (rows per framework x length, the comparison under
// config.frameworks) and a Markdown section (per-framework table, agreement, significance, fairness).
import { randomUUID } from 'node:crypto';
import type { NativeBinding } from '../native/binding.js';
import { SCHEMA_VERSION, type ResultFile, type ResultRow } from '../results/types.js';
import { collectEnvironment } from '../env/environment.js';
import { DEFAULT_SAMPLING } from '../measure/scheduler.js';
import { toleranceFor, validationOf } from '../results/validation.js';
import type { FrameworksOptions, FrameworksReport } from './compare.js';
import type { FrameworkDtype } from './types.js';

function fmtMs(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(4);
}

function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined) return '-';
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (b >= 2 ** 10) return `${(b / 2 ** 10).toFixed(1)} KiB`;
  return `${b} B`;
}

function fmtE(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

export function toResultFile(
  binding: NativeBinding,
  o: FrameworksOptions,
  r: FrameworksReport,
): ResultFile {
  const info = binding.info();
  const rows: ResultRow[] = r.points.map((p) => {
    const m = p.measurement;
    const agree = r.agreement.find(
      (a) =>
        a.seqLen === p.seqLen &&
        ((a.a === 'dilbench' && a.b === p.framework) ||
          (a.b === 'dilbench' && a.a === p.framework)),
    );
    const row: ResultRow = {
      implementation: p.framework === 'dilbench' ? `dilbench:${o.implementation}` : p.framework,
      device: 'cpu',
      dtype: o.dtype,
      batch: o.batch,
      heads: o.heads,
      kvHeads: o.heads,
      headDim: o.headDim,
      seqLen: p.seqLen,
      effectiveSeqLen: p.seqLen,
      causal: o.causal,
      status: p.status,
      reason: p.reason,
      samplesMs: m?.samplesMs ?? [],
      stats: m?.stats ?? null,
      ...(m
        ? {
            coldStartMs: m.coldStartMs,
            warmupIterations: m.warmupIterations,
            stopReason: m.stopReason,
            cacheMode: m.cacheMode,
            warnings: m.warnings,
          }
        : {}),
      peakMemoryBytes: p.peakMemory?.bytes ?? null,
      estimatedMemoryBytes: 0,
      tokensPerSecond: p.tokensPerSecond,
      gflops: p.gflops,
      flopsPerIteration: p.flops,
      bytesPerIteration: 0,
      threads: o.threads,
      simdLevel: p.framework === 'dilbench' ? info.simdLevel : null,
      params: {
        framework: p.framework,
        version: p.version,
        description: p.description,
        timing: p.timing,
        setupMs: p.setupMs,
        peakMemoryKind: p.peakMemory?.kind ?? null,
        peakMemoryNote: p.peakMemory?.note ?? null,
      },
      ...(agree && p.framework !== 'dilbench'
        ? {
            validation: validationOf(
              `dilbench:${o.implementation}`,
              agree,
              toleranceFor(o.dtype, {}, true),
              o.dtype,
            ),
          }
        : {}),
    };
    return row;
  });
  return {
    schemaVersion: SCHEMA_VERSION,
    suite: 'frameworks',
    runId: randomUUID(),
    createdAt: new Date().toISOString(),
    environment: collectEnvironment(binding),
    config: {
      seqLens: o.seqLens,
      batch: o.batch,
      heads: o.heads,
      kvHeads: o.heads,
      headDim: o.headDim,
      causal: o.causal,
      threads: o.threads,
      implementation: o.implementation,
      // the flat sampling fields every suite's config carries, so the shared Markdown can describe them
      warmup: o.sampling.warmup ?? 'adaptive',
      ...(o.sampling.runs !== undefined
        ? { runs: o.sampling.runs }
        : {
            targetRse: o.sampling.targetRse ?? DEFAULT_SAMPLING.targetRse,
            minSamples: o.sampling.minSamples ?? DEFAULT_SAMPLING.minSamples,
            maxSamples: o.sampling.maxSamples ?? DEFAULT_SAMPLING.maxSamples,
            maxTimeSeconds: o.sampling.maxTimeSeconds ?? DEFAULT_SAMPLING.maxTimeSeconds,
          }),
      cacheMode: o.sampling.cold ? 'cold' : 'hot',
      interleave: true,
      dtype: o.dtype,
      seed: o.seed,
      requestedFrameworks: o.frameworks,
      samplingOptions: o.sampling,
      sampling: o.sampling.runs !== undefined ? 'fixed' : 'adaptive',
      frameworks: { agreement: r.agreement, significance: r.significance, fairness: r.fairness },
    },
    results: rows,
  };
}

function table(header: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [header, header.map(() => '---'), ...rows]
    .map((r) => `| ${r.map(esc).join(' | ')} |`)
    .join('\n');
}

/** The frameworks-specific Markdown: per framework, numerical agreement, significance, fairness. */
export function frameworksMarkdown(r: FrameworksReport): string {
  const out: string[] = ['## Frameworks', ''];
  out.push(
    table(
      [
        'length',
        'framework',
        'status',
        'setup ms',
        'cold start ms',
        'median ms [95% CI]',
        'GFLOP/s',
        'tokens/s',
        'peak memory',
      ],
      r.points.map((p) => {
        const st = p.measurement?.stats;
        const ci = st?.medianCi95Ms;
        return [
          String(p.seqLen),
          p.framework,
          p.status === 'ok' ? 'ok' : `${p.status}: ${p.reason ?? ''}`,
          fmtMs(p.setupMs),
          fmtMs(p.coldStartMs),
          st ? `${fmtMs(st.medianMs)}${ci ? ` [${fmtMs(ci[0])}, ${fmtMs(ci[1])}]` : ''}` : '-',
          p.gflops !== null ? p.gflops.toFixed(1) : '-',
          p.tokensPerSecond !== null ? p.tokensPerSecond.toFixed(0) : '-',
          p.peakMemory
            ? p.peakMemory.kind === 'rss-delta' && p.peakMemory.bytes === 0
              ? 'no growth visible (rss-delta: the process peak was already higher)'
              : `${fmtBytes(p.peakMemory.bytes)} (${p.peakMemory.kind})`
            : '-',
        ];
      }),
    ),
    '',
    '### Numerical agreement',
    '',
  );
  if (r.agreement.length === 0)
    out.push('Fewer than two frameworks produced an output: nothing to compare.');
  else {
    const dtype = r.fairness.dtype as FrameworkDtype;
    const tol = toleranceFor(dtype, {}, true);
    const half = dtype !== 'fp32';
    out.push(
      half
        ? `Within tolerance: relative L2 <= ${fmtE(tol.relL2)} and max |a - b| / max(1, |b|) <= ${fmtE(tol.maxAbs)} (twice the ${dtype} tolerance against the exact answer, as for quick-validation's partners).`
        : `Within tolerance: max abs <= ${fmtE(tol.maxAbs)} and relative L2 <= ${fmtE(tol.relL2)} (twice the fp32 tolerance against the exact answer, as for quick-validation's partners).`,
      '',
      table(
        [
          'length',
          'a',
          'b',
          'max abs error',
          ...(half ? ['max scaled error'] : []),
          'rel L2 error',
          'within tolerance',
        ],
        r.agreement.map((a) => [
          String(a.seqLen),
          a.a,
          a.b,
          fmtE(a.maxAbsError),
          ...(half ? [fmtE(a.maxScaledError)] : []),
          fmtE(a.relL2Error),
          validationOf(a.b, a, tol, dtype).passed ? 'yes' : '**no**',
        ]),
      ),
    );
  }
  out.push('', '### Significance of each difference from dilbench', '');
  if (r.significance.length === 0) out.push('No framework measured beside dilbench.');
  else
    out.push(
      'ratio = median time of the framework / median time of dilbench (> 1: dilbench faster); 95% bootstrap interval; two-sided Mann-Whitney U.',
      '',
      table(
        ['length', 'framework', 'time ratio vs dilbench [95% CI]', 'p (Mann-Whitney)', 'verdict'],
        r.significance.map((s) => [
          String(s.seqLen),
          s.framework,
          `${s.ratio.toFixed(3)} [${s.ratioCi95[0].toFixed(3)}, ${s.ratioCi95[1].toFixed(3)}]`,
          `${s.p.toExponential(2)} (${s.method})`,
          s.verdict,
        ]),
      ),
    );
  const f = r.fairness;
  out.push(
    '',
    '### Fairness',
    '',
    `- dtype: ${f.dtype}; threads: ${f.threads}; shapes: batch ${f.shapes.batch}, heads ${f.shapes.heads}, headDim ${f.shapes.headDim}, lengths ${f.shapes.seqLens.join(', ')}, ${f.shapes.causal ? 'causal' : 'not causal'}`,
    `- inputs: ${f.inputs}`,
    ...Object.entries(f.versions).map(([k, v]) => `- version ${k}: ${v}`),
    // what each framework ran, as it described itself at its longest length (the kernel torch picks may change with it)
    ...[
      ...new Map(
        r.points.filter((p) => p.description).map((p) => [p.framework, p.description] as const),
      ).entries(),
    ].map(([k, d]) => `- what runs in ${k}: ${d}`),
    ...Object.entries(f.timing).map(([k, v]) => `- timing ${k}: ${v}`),
    ...f.notes.map((n) => `- ${n}`),
    '',
  );
  return out.join('\n');
}
