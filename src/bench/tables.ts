// The printed tables of `dilbench bench`, one per section, from the sections' results.
import type { BenchSignificance, BenchSummary, DtypeBenchRow } from '../results/types.js';
import { textTable } from '../reports/format.js';
import type { ComputeApiRow } from './compute-api.js';
import type { DtypeBenchResult } from './dtypes.js';
import type { DilatedTorchResult, FrameworkBenchResult } from './frameworks.js';
import type { BenchResult } from './kernels.js';

/** a figure with one (f1) or two (f2) decimals; '-' where there is none */
const f1 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(1);
const f2 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(2);

/** The time ratio, its 95% interval, p and the outputs' max |difference| cells of a side-by-side row. */
function ratioCells(
  ratio: number | null,
  significance: BenchSignificance | null | undefined,
  maxAbsError: number | null,
): string[] {
  return [
    ratio !== null ? `${ratio.toFixed(2)}x` : '-',
    significance
      ? `[${significance.ratioCi95[0].toFixed(2)}, ${significance.ratioCi95[1].toFixed(2)}]`
      : '-',
    significance ? significance.p.toExponential(1) : '-',
    maxAbsError !== null ? maxAbsError.toExponential(1) : '-',
  ];
}

export function benchTable(r: BenchResult): string {
  const lines = [
    `FP32 FMA peak ${r.peak.fmaGflops.toFixed(1)} GFLOP/s, stream ${r.peak.streamGBps.toFixed(1)} GB/s ` +
      `(${r.threads} threads, SIMD ${r.simdLevel})`,
    '',
  ];
  // without the kernels section (--only, --no-kernels) there is no table: a bare header says nothing
  if (r.rows.length)
    lines.push(
      textTable(
        ['implementation', 'length', 'median ms', 'GFLOP/s', '% of peak'],
        r.rows.map((x) => [
          x.implementation,
          String(x.seqLen),
          x.medianMs.toFixed(2),
          x.gflops.toFixed(1),
          `${x.pctOfPeak.toFixed(1)}%`,
        ]),
        [false, true, true, true, true],
      ),
    );
  return lines.join('\n') + '\n';
}

export function dilatedTorchTable(d: DilatedTorchResult, threads: number): string {
  const lines = [
    `dilated vs ${d.torchVersion ?? 'PyTorch'} implementations of the same definitions, and flash (batch 1, ${d.heads} heads, headDim 64, seqLen ${d.seqLen}, segments ${d.segmentLengths.join(',')}, rates ${d.dilationRates.join(',')}, fp32, ${threads} threads, interleaved; dilbench SIMD ${d.simdLevel}${d.torchCpuCapability ? `, torch ATen ${d.torchCpuCapability}` : ''})`,
    textTable(
      [
        'implementation',
        'ms',
        'GFLOP/s',
        '% of flash',
        'torch ms',
        'torch GFLOP/s',
        'torch/dilbench time',
        '95% CI',
        'p',
        'max|diff|',
      ],
      d.rows.map((x) => [
        x.implementation,
        f2(x.medianMs),
        f1(x.gflops),
        `${f1(x.pctOfFlash)}%`,
        f2(x.torchMedianMs),
        f1(x.torchGflops),
        ...ratioCells(x.torchRatio, x.torchSignificance, x.torchMaxAbsError),
      ]),
      [false, true, true, true, true, true, true, true, true, true],
    ),
  ];
  if (d.torchSkipped) lines.push(`  PyTorch: skipped: ${d.torchSkipped}`);
  return lines.join('\n') + '\n';
}

/** streamGBps: the measured stream bandwidth, for the kv-cache rows' % of stream (omitted: '-') */
function llcWord(v: 'within-llc' | 'exceeds-llc' | null | undefined): string {
  return v === 'within-llc' ? 'within' : v === 'exceeds-llc' ? 'beyond' : '-';
}

export function dtypeBenchTable(d: DtypeBenchResult, threads: number, streamGBps?: number): string {
  // a kv row's own bracketing stream reading; older files: the run's
  const rowStream = (x: DtypeBenchRow): number | null => x.streamGBps ?? streamGBps ?? null;
  const out = [
    `storage dtypes side by side (fp32 compute, ${threads} threads, interleaved; vs fp32 = fp32 median / median, > 1 is faster)`,
    `  flash: batch 1, 8 heads, headDim 64, median ms per forward; kv-cache: cache ${(d.kv.cacheLens ?? [d.kv.cacheLen]).join(', ')}, ${d.kv.heads}/${d.kv.kvHeads} heads, headDim ${d.kv.headDim}, causal, ${d.kv.newTokens} new tokens${d.kv.prefill === 'skip' ? ', the prompt only filling the cache (prefill skip)' : ''}, median ms per decoded token, GB/s of cache read in the storage dtype; stream GB/s: read right before and after each length's rows (their mean), the base of % of stream`,
    `  LLC: the row's K+V (storage dtype) within or beyond the last-level cache the machine lists (${d.kv.llcBytes ? `${(d.kv.llcBytes / 2 ** 20).toFixed(0)} MiB` : 'unknown'}; a VM may list more than its share): within, decode may run from cache and half storage gains less than 2x`,
    textTable(
      [
        'kernel',
        'length',
        'dtype',
        'median ms',
        'GFLOP/s',
        'GB/s',
        'stream GB/s',
        '% of stream',
        'vs fp32',
        'inputs MiB',
        'samples',
        'timing',
        'LLC',
      ],
      d.rows.map((x) => [
        x.kernel,
        String(x.seqLen),
        x.dtype,
        x.medianMs.toFixed(x.kernel === 'kv-cache' ? 3 : 2),
        f1(x.gflops),
        f1(x.gbps),
        x.gbps !== null ? f1(rowStream(x)) : '-',
        x.gbps !== null && rowStream(x) ? `${f1((100 * x.gbps) / rowStream(x)!)}%` : '-',
        x.speedupVsFp32 !== null ? `${x.speedupVsFp32.toFixed(2)}x` : '-',
        (x.inputBytes / 2 ** 20).toFixed(1),
        String(x.samples),
        x.timing,
        llcWord(x.cacheVsLlc),
      ]),
      [false, true, false, true, true, true, true, true, true, true, true, false, false],
    ),
  ];
  for (const s of d.skipped) out.push(`  skipped: ${s}`);
  return out.join('\n') + '\n';
}

export function computeApiTable(rows: ComputeApiRow[], threads: number): string {
  return [
    `computeAttention vs session (flash, batch 1, 8 heads, headDim 64, fp32, ${threads} threads, interleaved; ratios to the session call, both wall time of one awaited call)`,
    textTable(
      [
        'length',
        'kernel ms',
        'session call ms',
        'computeAttention ms',
        'min ms',
        'max ms',
        'ratio',
        'vs kernel',
        'with out ms',
        'ratio',
        'out, no copy ms',
        'ratio',
      ],
      rows.map((x) => [
        String(x.seqLen),
        x.sessionMedianMs.toFixed(2),
        x.sessionCallMedianMs.toFixed(2),
        x.computeMedianMs.toFixed(2),
        x.computeMinMs.toFixed(2),
        x.computeMaxMs.toFixed(2),
        `${x.ratio.toFixed(3)}x`,
        `${x.ratioToKernel.toFixed(3)}x`,
        x.computeOutMedianMs.toFixed(2),
        `${x.ratioOut.toFixed(3)}x`,
        x.computeInPlaceMedianMs.toFixed(2),
        `${x.ratioInPlace.toFixed(3)}x`,
      ]),
      Array<boolean>(12).fill(true),
    ),
  ].join('\n');
}

// ---- the whole bench ---------------------------------------------------------------------------

/** What one run of the bench measured, as its tables print it: the sections' figures are the
 *  result file's (ResultFile.bench), described there once. */
export interface FullBenchResult
  extends
    BenchResult,
    Pick<
      BenchSummary,
      | 'quick'
      | 'elapsedSeconds'
      | 'frameworks'
      | 'kvCache'
      | 'dilated'
      | 'dilatedTorch'
      | 'dtypes'
      | 'computeApi'
      | 'interrupted'
    > {
  createdAt: string;
}

/** Which kernels each side ran: dilbench's level, torch's ATen capability; ORT picks its own. */
function frameworkIsa(f: FrameworkBenchResult): string {
  if (!f.simdLevel) return '';
  const cpu = f.detectedSimdLevel && f.detectedSimdLevel !== f.simdLevel;
  return (
    `; dilbench SIMD ${f.simdLevel}${cpu ? ` (this CPU: ${f.detectedSimdLevel})` : ''}` +
    `${f.torchCpuCapability ? `, torch ATen ${f.torchCpuCapability}` : ''}` +
    ', onnxruntime its own CPU dispatch'
  );
}

/** A forced lower level against onnxruntime, which cannot be forced, is not like for like: say so. */
function forcedIsaNote(f: FrameworkBenchResult): string | null {
  if (!f.simdLevel || !f.detectedSimdLevel || f.simdLevel === f.detectedSimdLevel) return null;
  return (
    `  note: flash was forced to ${f.simdLevel} (DILBENCH_SIMD) while onnxruntime-node picks the best kernels this CPU has ` +
    `(${f.detectedSimdLevel}) and cannot be forced: the ORT ratio compares different instruction sets. ` +
    'Unset DILBENCH_SIMD for a same-ISA comparison.'
  );
}

/** A length as the tables' headers write it: 4K for 4096, the number itself otherwise. */
const len = (n: number) => (n % 1024 === 0 ? `${n / 1024}K` : String(n));
const ci = (s: BenchSignificance | null | undefined) =>
  s ? ` [${s.ratioCi95[0].toFixed(2)}, ${s.ratioCi95[1].toFixed(2)}]` : '';

/**
 * The answer first: one line per figure the sections measured (each from the tables below, which
 * hold the rest), ratios as the other side's time over dilbench's (> 1: dilbench faster) with
 * their 95% interval where the section computes one. Null when no section produced a figure.
 */
export function benchHeadline(r: FullBenchResult): string | null {
  const rows: string[][] = [];
  const add = (figure: string, parts: string[]) => {
    if (parts.length) rows.push([figure, parts.join(' | ')]);
  };
  const flash = r.rows.filter((x) => x.implementation === 'flash');
  add(
    `flash fp32, % of FMA peak (${r.simdLevel})`,
    flash.map((x) => `${len(x.seqLen)} ${x.pctOfPeak.toFixed(1)}%`),
  );
  const fw = r.frameworks?.rows ?? [];
  add(
    'flash vs onnxruntime-node MHA',
    fw
      .filter((x) => x.ratio !== null)
      .map((x) => `${len(x.seqLen)} ${x.ratio!.toFixed(2)}x${ci(x.significance)}`),
  );
  add(
    'flash vs PyTorch SDPA',
    fw
      .filter((x) => x.torchRatio !== null)
      .map((x) => `${len(x.seqLen)} ${x.torchRatio!.toFixed(2)}x${ci(x.torchSignificance)}`),
  );
  add(
    'kv-cache decode (8 heads d64), % of stream',
    (r.kvCache ?? []).map(
      (x) =>
        `${len(x.cacheLen)} ${x.pctOfStream.toFixed(0)}%${x.cacheVsLlc ? ` (${llcWord(x.cacheVsLlc)} LLC)` : ''}`,
    ),
  );
  const kvRows = (r.dtypes?.rows ?? []).filter((x) => x.kernel === 'kv-cache');
  const kvHalf = kvRows.filter((x) => x.dtype !== 'fp32');
  const caches = [...new Set(kvHalf.map((x) => x.seqLen))];
  /** how fast fp32 read its cache against the measured stream: well above it the cache came from
   * the CPU caches, where half storage cannot gain the 2x that halving DRAM traffic would */
  const fp32Source = (c: number): string => {
    const f = kvRows.find((x) => x.seqLen === c && x.dtype === 'fp32');
    const stream = f?.streamGBps ?? r.peak.streamGBps;
    if (!f || f.gbps === null || !(stream > 0)) return '';
    const pct = (100 * f.gbps) / stream;
    const where = pct > 110 ? 'above it: from cache' : pct >= 90 ? 'about the stream' : 'below it';
    return ` (fp32 read at ${pct.toFixed(0)}% of stream, ${where})`;
  };
  add(
    r.dtypes
      ? `half KV cache vs fp32 (${r.dtypes.kv.heads}/${r.dtypes.kv.kvHeads} heads d${r.dtypes.kv.headDim}), speed`
      : 'half KV cache vs fp32',
    caches.map(
      (c) =>
        `${len(c)}${fp32Source(c)}: ${kvHalf
          .filter((x) => x.seqLen === c && x.speedupVsFp32 !== null)
          .map((x) => `${x.dtype} ${x.speedupVsFp32!.toFixed(2)}x`)
          .join(', ')}`,
    ),
  );
  add(
    'computeAttention / session call (out; out + no copy)',
    (r.computeApi ?? []).map(
      (x) =>
        `${len(x.seqLen)} ${x.ratio.toFixed(2)}x (${x.ratioOut.toFixed(2)}x; ${x.ratioInPlace.toFixed(2)}x)`,
    ),
  );
  for (const x of r.dilatedTorch?.rows ?? []) {
    if (x.implementation === 'flash') continue;
    add(`${x.implementation} vs its PyTorch (${len(r.dilatedTorch!.seqLen)})`, [
      ...(x.torchRatio !== null ? [`${x.torchRatio.toFixed(2)}x${ci(x.torchSignificance)}`] : []),
      `${x.pctOfFlash.toFixed(0)}% of flash's GFLOP/s`,
    ]);
  }
  if (!rows.length) return null;
  return [
    ...(r.interrupted
      ? ['INTERRUPTED run: the figures below are partial (see the last line)']
      : []),
    "Headline (from the tables below; ratios are the other side's median time / dilbench's, > 1: dilbench faster, [95% CI])",
    textTable(['figure', 'measured'], rows),
    '',
  ].join('\n');
}

export function fullBenchTable(r: FullBenchResult): string {
  const headline = benchHeadline(r);
  const out = headline ? [headline, benchTable(r)] : [benchTable(r)];
  if (r.frameworks) {
    out.push(
      `flash vs ${r.frameworks.version ?? 'onnxruntime-node'} MultiHeadAttention (batch 1, 8 heads, headDim 64, fp32, ${r.threads} threads, interleaved${frameworkIsa(r.frameworks)})`,
    );
    const forced = forcedIsaNote(r.frameworks);
    if (forced) out.push(forced);
    if (r.frameworks.skipped) out.push(`  skipped: ${r.frameworks.skipped}`);
    else
      out.push(
        textTable(
          [
            'length',
            'flash ms',
            'flash GFLOP/s',
            '% of peak',
            'ORT MHA ms',
            'ORT GFLOP/s',
            'ORT/flash time',
            '95% CI',
            'p',
            'max|diff|',
          ],
          r.frameworks.rows.map((x) => [
            String(x.seqLen),
            f2(x.flashMedianMs),
            f1(x.flashGflops),
            `${f1(x.flashPctOfPeak)}%`,
            f2(x.ortMedianMs),
            f1(x.ortGflops),
            ...ratioCells(x.ratio, x.significance, x.maxAbsError),
          ]),
          [true, true, true, true, true, true, true, true, true, true],
        ),
      );
    if (r.frameworks.torchSkipped) out.push(`  PyTorch: skipped: ${r.frameworks.torchSkipped}`);
    else if (r.frameworks.rows.some((x) => x.torchMedianMs !== null)) {
      out.push(
        `flash vs ${r.frameworks.torchVersion ?? 'PyTorch'} scaled_dot_product_attention (same points, sampled interleaved with the two above)`,
      );
      out.push(
        textTable(
          [
            'length',
            'flash ms',
            'torch ms',
            'torch GFLOP/s',
            'torch/flash time',
            '95% CI',
            'p',
            'max|diff|',
          ],
          r.frameworks.rows.map((x) => [
            String(x.seqLen),
            f2(x.flashMedianMs),
            f2(x.torchMedianMs),
            f1(x.torchGflops),
            ...ratioCells(x.torchRatio, x.torchSignificance, x.torchMaxAbsError),
          ]),
          [true, true, true, true, true, true, true, true],
        ),
      );
    }
    out.push('');
  }
  if (r.kvCache) {
    out.push(
      `kv-cache decode bandwidth vs the stream bandwidth read right before and after each row (stream GB/s: their mean; ${r.peak.streamGBps.toFixed(1)} GB/s at the run's start) (batch 1, 8 heads, headDim 64, causal; LLC: the fp32 K+V within or beyond the last-level cache the machine lists; prefill "copy": the prompt only filled the cache, prefill skip)`,
    );
    out.push(
      textTable(
        [
          'cache',
          'new tokens',
          'decode GB/s',
          'min-max',
          'stream GB/s',
          '% of stream',
          'ms/token',
          'prefill ms',
          'LLC',
          'source',
        ],
        r.kvCache.map((x) => [
          String(x.cacheLen),
          String(x.newTokens),
          f1(x.decodeGBps),
          `${f1(x.decodeGBpsMin)}-${f1(x.decodeGBpsMax)}`,
          f1(x.streamGBps ?? r.peak.streamGBps),
          `${f1(x.pctOfStream)}%`,
          f2(x.msPerToken),
          `${f1(x.prefillMs)}${x.prefill === 'skip' ? ' (copy)' : ''}`,
          llcWord(x.cacheVsLlc),
          x.source,
        ]),
        [true, true, true, true, true, true, true, true, false, false],
      ),
      '',
    );
  }
  if (r.dilated) {
    const d = r.dilated;
    out.push(
      `dilated time vs length (batch 1, ${d.heads} heads, headDim 64, segments ${d.segmentLengths.join(',')}, rates ${d.dilationRates.join(',')})`,
    );
    out.push(
      textTable(
        ['length', 'median ms', 'GFLOP/s', 'samples'],
        d.rows.map((x) => [String(x.seqLen), f2(x.medianMs), f1(x.gflops), String(x.samples)]),
        [true, true, true, true],
      ),
    );
    if (d.fit) {
      const ci = d.fit.kCi95
        ? ` (95% CI ${d.fit.kCi95[0].toFixed(3)}-${d.fit.kCi95[1].toFixed(3)})`
        : '';
      out.push(
        `fitted exponent: time ~ n^${d.fit.k.toFixed(3)}${ci}, r2 ${d.fit.r2.toFixed(4)}, ${d.fit.points} points`,
      );
    }
    out.push('');
  }
  if (r.dilatedTorch) out.push(dilatedTorchTable(r.dilatedTorch, r.threads));
  if (r.dtypes) out.push(dtypeBenchTable(r.dtypes, r.threads, r.peak.streamGBps));
  if (r.computeApi) out.push(computeApiTable(r.computeApi, r.threads));
  const stop = r.interrupted;
  if (stop)
    out.push(
      `INTERRUPTED${stop.during ? ` during ${stop.during} (its points above finished; the one being sampled was dropped)` : ' between sections'}` +
        (stop.notRun.length ? `; not run: ${stop.notRun.join(', ')}` : ''),
    );
  out.push(`elapsed ${r.elapsedSeconds.toFixed(0)} s${r.quick ? ' (--quick)' : ''}`);
  return out.join('\n') + '\n';
}
