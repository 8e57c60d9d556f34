// `dilbench report`: aggregate every result file in a directory (and its history.jsonl) into
// tables (CSV), figures (SVG/PNG), report.md, report.json and a self-contained report.html.
import { writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { renderHtmlReport, type HtmlChart, type HtmlRun } from '../html/index.js';
import { describeMachine, formatBytes, formatLength, runFileStem, runLabels } from '../plots/data.js';
import { answerMarkdown } from '../answer.js';
import { rankFile, rankableRows, sparseVsDense } from '../../results/ranking.js';
import { writePlot, type PlotFormat } from '../plots/index.js';
import { describeGpuPeak } from '../../roofline/index.js';
import { buildSuiteSpecs, performanceOverTimeSpec, type PlotKind, type VlSpec } from '../plots/specs.js';
import { sideComparisonSections } from '../side-sections.js';
import {
  TABLE_COLUMNS,
  aggregate,
  applyStoredPeaks,
  historyPoints,
  loadHistory,
  loadResultFiles,
  toCsv,
  type LoadedResultFile,
  type TableRow,
} from './aggregate.js';
import { makeDirectory } from '../../results/output-dir.js';
import { contentionCaution } from '../answer.js';

export * from './aggregate.js';

export const REPORT_FORMATS = ['md', 'html', 'csv', 'json', 'all'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportOptions {
  /** where the result files and history.jsonl are (default benchmark_results) */
  resultsDir?: string;
  /** output directory (default report) */
  outDir?: string;
  /** what to write (default all); md also writes the figures it links */
  formats?: ReportFormat[];
  /** implementation for the speedup plots (default naive) */
  baseline?: string;
  /** figure file formats (default svg and png) */
  figureFormats?: PlotFormat[];
  /** report title */
  title?: string;
  /** progress and warnings (default: nothing) */
  log?: (line: string) => void;
}

export interface ReportResult {
  /** every file written, absolute */
  files: string[];
  resultFiles: number;
  rows: number;
  historyEntries: number;
  warnings: string[];
}

const PLOT_TITLES: Record<PlotKind, string> = {
  latency: 'Latency vs sequence length',
  memory: 'Peak memory vs sequence length',
  throughput: 'Throughput and % of peak',
  speedup: 'Speedup vs baseline',
  'optimization-impact': 'Optimization impact',
  ring: 'Ring: compute per step, and the projected communication where P > 1',
  'side-comparison': 'Precision / device comparison: time ratio',
  'drift-sentinel': 'Drift sentinel over the run',
  'performance-over-time': 'Performance over time',
};

/** % of peak with its interval, and over 100% with the reason (never bare). */
export function percentCell(r: Pick<TableRow, 'percentOfPeak' | 'percentOfPeakLow' | 'percentOfPeakHigh' | 'overPeakNote'>): string {
  if (r.percentOfPeak === null) return '';
  const range = r.percentOfPeakLow !== null && r.percentOfPeakHigh !== null ? ` (${r.percentOfPeakLow.toFixed(0)}-${r.percentOfPeakHigh.toFixed(0)})` : '';
  return `${r.percentOfPeak.toFixed(1)}%${range}${r.overPeakNote && r.percentOfPeak > 100 ? `: ${r.overPeakNote}` : ''}`;
}

function latestRows(rows: TableRow[]): TableRow[] {
  return rows
    .filter((r) => r.latest)
    .sort((a, b) => a.implementation.localeCompare(b.implementation) || a.seqLen - b.seqLen || a.configKey.localeCompare(b.configKey));
}

/** "ring (P=2, zigzag, distributed)": the ring size and layout tell apart rows the key tells apart. */
function implementationLabel(r: TableRow): string {
  const extra = [
    ...(r.ringSize !== null ? [`P=${r.ringSize}`] : []),
    ...(r.layout ? [r.layout] : []),
    ...(r.distributed ? ['distributed'] : []),
  ];
  return extra.length ? `${r.implementation} (${extra.join(', ')})` : r.implementation;
}

function num(v: number | null, digits = 3): string {
  if (v === null || !Number.isFinite(v)) return '';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toPrecision(digits);
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function mdTable(rows: TableRow[], runName?: (r: TableRow) => string): string {
  const head = [...(runName ? ['run'] : []), 'implementation', 'seqLen', 'causal', 'batch', 'pool', 'cache', 'status', 'median ms (p10-p90)', 'tokens/s', 'GFLOP/s', '% peak', 'peak memory'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const time = r.medianMs !== null ? `${num(r.medianMs)} (${num(r.p10Ms)}-${num(r.p90Ms)})` : '';
    const status = r.status === 'ok' ? (r.interferenceFlagged ? 'ok, under contention' : 'ok') : r.status === 'interrupted' ? 'interrupted' : `${r.status}: ${r.reason}`;
    const cells = [
      ...(runName ? [runName(r)] : []),
      implementationLabel(r),
      r.effectiveSeqLen !== r.seqLen ? `${formatLength(r.seqLen)} (ran ${r.effectiveSeqLen})` : formatLength(r.seqLen),
      r.causal ? 'yes' : 'no',
      String(r.batch),
      r.memoryPool === null ? '' : r.memoryPool ? 'on' : 'off',
      r.patternCache === null ? '' : r.patternCache ? 'on' : 'off',
      status,
      time,
      num(r.tokensPerSecond),
      num(r.gflops),
      r.percentOfPeak !== null ? percentCell(r) : '',
      formatBytes(r.peakMemoryBytes),
    ];
    lines.push(`| ${cells.map((c) => mdEscape(c)).join(' | ')} |`);
  }
  return lines.join('\n');
}

interface RunFigures {
  run: LoadedResultFile;
  /** "sequence-ranges 2026-12-07 04:17 UTC" */
  name: string;
  specs: Partial<Record<PlotKind, VlSpec>>;
  files: Partial<Record<PlotKind, string[]>>;
}

function renderMarkdown(opts: {
  title: string;
  generatedAt: string;
  resultsDir: string;
  outDir: string;
  runs: RunFigures[];
  rows: TableRow[];
  overTimeFiles: string[];
  historyEntries: number;
  warnings: string[];
}): string {
  const rel = (p: string): string => relative(opts.outDir, p).split('\\').join('/');
  const out: string[] = [];
  const nameOf = new Map(opts.runs.map((rf) => [`${rf.run.expId}|${rf.run.file.createdAt}`, rf.name]));
  const runName = (r: TableRow): string => nameOf.get(`${r.exp_id}|${r.createdAt}`) ?? r.exp_id;
  out.push(`# ${opts.title}`, '');
  out.push(`Generated ${opts.generatedAt} from \`${opts.resultsDir}\`: ${opts.runs.length} runs, ${opts.rows.length} rows, ${opts.historyEntries} history entries. Ring communication times are projections; everything else was measured.`, '');
  if (opts.warnings.length) out.push(...opts.warnings.map((w) => `> note: ${w}`), '');
  // the answer: ranked within one run (points measured together), the newest run that has one first
  const answered = [...opts.runs].reverse().find((rf) => rankFile(rf.run.file).length > 0);
  if (answered) {
    out.push(`## Answer: ${answered.name}`, '');
    out.push(`Ranked within this run only: points measured in different runs are not compared. Every run below has its own ranking.`, '');
    out.push(...answerMarkdown(answered.run.file, 3));
  } else {
    out.push('## Answer', '', 'No run measured exact dense attention, so nothing is ranked.', '');
  }
  for (const rf of [...opts.runs].reverse()) {
    const f = rf.run.file;
    out.push(`## ${rf.name}`, '');
    out.push(`On ${describeMachine(f.environment)}${f.interrupted ? ' (**interrupted**)' : ''}. File: \`${rf.run.path}\` (run id \`${rf.run.expId}\`).`, '');
    if (rf !== answered) out.push(...answerMarkdown(f, 3));
    if (f.interference) out.push(`Interference: ${f.interference.summary}.`, '');
    if (f.driftSentinel) out.push(`Drift: ${f.driftSentinel.summary}.`, '');
    for (const [kind, files] of Object.entries(rf.files) as [PlotKind, string[]][]) {
      const img = files.find((p) => p.endsWith('.svg')) ?? files[0];
      if (img) out.push(`![${PLOT_TITLES[kind]}](${rel(img)})`, '');
    }
    out.push(...sideComparisonSections(f, 3));
    const rows = opts.rows.filter((r) => r.exp_id === rf.run.expId && r.createdAt === f.createdAt);
    const env = f.environment;
    const envLines = env
      ? [
          `- machine: ${env.cpuModel}, ${env.cpuCores} cores, ${env.simdLevel}, ${formatBytes(env.totalMemoryBytes)} RAM`,
          `- software: ${env.os}, Node ${env.nodeVersion}, dilbench ${env.dilbenchVersion} (${env.buildType}), commit ${env.gitCommit ?? 'n/a'}`,
          ...(env.peak ? [`- measured peak: ${env.peak.fmaGflops.toFixed(1)} GFLOP/s FP32 FMA, ${env.peak.streamGBps.toFixed(1)} GB/s stream (${env.peak.threads} threads)`] : []),
          ...(env.gpuPeak ? [`- measured GPU peak: ${describeGpuPeak(env.gpuPeak)}`] : []),
          '',
        ]
      : [];
    out.push('<details>', `<summary>Every point of this run (${rows.length}) and its environment</summary>`, '', mdTable(rows), '', ...envLines, '</details>', '');
  }
  out.push('## Performance over time', '');
  const svgOverTime = opts.overTimeFiles.find((f) => f.endsWith('.svg')) ?? opts.overTimeFiles[0];
  out.push(svgOverTime ? `![Performance over time](${rel(svgOverTime)})` : '_No measured history yet._', '');
  const latest = latestRows(opts.rows);
  out.push(
    '<details>',
    `<summary>Latest result per configuration (${latest.length} configurations, across runs)</summary>`,
    '',
    'The most recent result of each configuration (implementation, length, batch, heads, head dim, causal, dtype, device, memory pool, pattern cache), whichever run measured it. Not a ranking: these rows were measured at different times.',
    '',
    mdTable(latest, runName),
    '',
    '</details>',
    '',
  );
  return out.join('\n');
}

/** Write the report; see ReportOptions. Never throws for a bad result file (it is listed in warnings). */
export async function generateReport(options: ReportOptions = {}): Promise<ReportResult> {
  const resultsDir = options.resultsDir ?? 'benchmark_results';
  const outDir = resolve(options.outDir ?? 'report');
  const formats = new Set<ReportFormat>(options.formats?.length ? options.formats : ['all']);
  const all = formats.has('all');
  const want = (f: Exclude<ReportFormat, 'all'>): boolean => all || formats.has(f);
  const figureFormats = options.figureFormats ?? ['svg', 'png'];
  const log = options.log ?? (() => undefined);
  const title = options.title ?? 'dilbench report';
  const generatedAt = new Date().toISOString();

  const loaded = loadResultFiles(resultsDir);
  const warnings = loaded.ignored.map((i) => `ignored ${i.path}: ${i.reason}`);
  const peakFiles = applyStoredPeaks(loaded.files, loaded.peaks);
  for (const { path, peak } of loaded.peaks) {
    log(`peak: ${path} (${peak.fmaGflops.toFixed(1)} GFLOP/s FMA, ${peak.streamGBps.toFixed(1)} GB/s, ${peak.threads} threads, ${peak.simdLevel}); used for ${peakFiles} result file(s) measured without one`);
  }
  const history = loadHistory(resultsDir);
  if (history.skippedLines.length) warnings.push(`history.jsonl: skipped ${history.skippedLines.length} torn or invalid line(s) (${history.skippedLines.slice(0, 5).join(', ')})`);
  const rows = aggregate(loaded.files);
  const points = historyPoints(history.entries, loaded.files);
  const written: string[] = [];
  makeDirectory(outDir);

  // specs for every run (also needed by the HTML report)
  const names = runLabels(loaded.files.map((f) => f.file)); // one per file, in order
  const runs: RunFigures[] = loaded.files.map((run, i) => ({ run, name: names[i]!, specs: buildSuiteSpecs(run.file, { baseline: options.baseline }), files: {} }));
  const overTimeSpec = performanceOverTimeSpec(points);
  let overTimeFiles: string[] = [];

  if (want('md')) {
    const figDir = join(outDir, 'figs');
    for (const rf of runs) {
      for (const [kind, spec] of Object.entries(rf.specs) as [PlotKind, VlSpec][]) {
        try {
          // named by suite and time, as the reader knows the run
          const files = await writePlot(spec, figDir, `${runFileStem(rf.name)}_${kind}`, figureFormats);
          rf.files[kind] = files;
          written.push(...files);
        } catch (err) {
          warnings.push(`could not render ${kind} for ${rf.name}: ${(err as Error).message}`);
        }
      }
      log(`figures for ${rf.name}`);
    }
    if (overTimeSpec) {
      overTimeFiles = await writePlot(overTimeSpec, figDir, 'performance-over-time', figureFormats);
      written.push(...overTimeFiles);
    }
  }

  if (want('csv')) {
    const tables = join(outDir, 'tables');
    makeDirectory(tables);
    const put = (name: string, text: string): void => {
      const p = join(tables, name);
      writeFileSync(p, text);
      written.push(p);
    };
    put('results.csv', toCsv(rows, TABLE_COLUMNS));
    put('latest.csv', toCsv(latestRows(rows), TABLE_COLUMNS));
    put(
      'history.csv',
      toCsv(
        points.map((p) => ({
          runId: p.runId,
          timestamp: p.timestamp,
          gitCommit: p.gitCommit ?? '',
          cpuModel: p.environment?.cpuModel ?? '',
          implementation: p.row.implementation,
          seqLen: p.row.seqLen,
          batch: p.row.batch,
          causal: p.row.causal,
          status: p.row.status,
          medianMs: p.row.stats?.medianMs ?? null,
          tokensPerSecond: p.row.tokensPerSecond ?? null,
          peakMemoryBytes: p.row.peakMemoryBytes ?? null,
        })),
        ['runId', 'timestamp', 'gitCommit', 'cpuModel', 'implementation', 'seqLen', 'batch', 'causal', 'status', 'medianMs', 'tokensPerSecond', 'peakMemoryBytes'],
      ),
    );
    put(
      'environments.csv',
      toCsv(
        loaded.files.map((f) => ({
          exp_id: f.expId,
          suite: f.file.suite,
          createdAt: f.file.createdAt,
          cpuModel: f.file.environment?.cpuModel,
          cpuCores: f.file.environment?.cpuCores,
          simdLevel: f.file.environment?.simdLevel,
          totalMemoryBytes: f.file.environment?.totalMemoryBytes,
          os: f.file.environment?.os,
          nodeVersion: f.file.environment?.nodeVersion,
          dilbenchVersion: f.file.environment?.dilbenchVersion,
          gitCommit: f.file.environment?.gitCommit,
          peakFmaGflops: f.file.environment?.peak?.fmaGflops,
          file: f.path,
        })),
        ['exp_id', 'suite', 'createdAt', 'cpuModel', 'cpuCores', 'simdLevel', 'totalMemoryBytes', 'os', 'nodeVersion', 'dilbenchVersion', 'gitCommit', 'peakFmaGflops', 'file'],
      ),
    );
  }

  if (want('json')) {
    const p = join(outDir, 'report.json');
    const data = {
      generatedAt,
      resultsDir,
      runs: loaded.files.map((f) => ({
        exp_id: f.expId,
        suite: f.file.suite,
        createdAt: f.file.createdAt,
        path: f.path,
        environment: f.file.environment,
        config: f.file.config,
        ...(f.file.comparisons ? { comparisons: f.file.comparisons } : {}),
      })),
      rows: rows.map(({ configKey: _k, ...r }) => r),
      latest: latestRows(rows).map(({ configKey: _k, ...r }) => r),
      history: { entries: history.entries.length, skippedLines: history.skippedLines },
      warnings,
    };
    writeFileSync(p, JSON.stringify(data, null, 2) + '\n');
    written.push(p);
  }

  if (want('md')) {
    const p = join(outDir, 'report.md');
    writeFileSync(p, renderMarkdown({ title, generatedAt, resultsDir, outDir, runs, rows, overTimeFiles, historyEntries: history.entries.length, warnings }));
    written.push(p);
  }

  if (want('html')) {
    const htmlRuns: HtmlRun[] = runs.map((rf, i) => ({
      name: rf.name,
      ranking: rankFile(rf.run.file),
      sparse: sparseVsDense(rankableRows(rf.run.file)),
      expId: rf.run.expId,
      suite: rf.run.file.suite,
      createdAt: rf.run.file.createdAt,
      path: rf.run.path,
      environment: rf.run.file.environment,
      config: rf.run.file.config,
      interrupted: rf.run.file.interrupted,
      ...(contentionCaution(rf.run.file) ? { caution: contentionCaution(rf.run.file) as string } : {}),
      ...(rf.run.file.interference || rf.run.file.driftSentinel
        ? { interference: [rf.run.file.interference?.summary, rf.run.file.driftSentinel ? `drift: ${rf.run.file.driftSentinel.summary}` : undefined].filter(Boolean).join('; ') }
        : {}),
      charts: (Object.entries(rf.specs) as [PlotKind, VlSpec][]).map(
        ([kind, spec]): HtmlChart => ({ id: `chart-${i + 1}-${kind}`, title: `${PLOT_TITLES[kind]} - ${rf.name}`, spec }),
      ),
      rows: rows.filter((r) => r.exp_id === rf.run.expId && r.createdAt === rf.run.file.createdAt),
    }));
    const html = renderHtmlReport({
      title,
      generatedAt,
      resultsDir,
      runs: htmlRuns,
      latest: latestRows(rows),
      overview: overTimeSpec ? [{ id: 'chart-performance-over-time', title: PLOT_TITLES['performance-over-time'], spec: overTimeSpec }] : [],
      notes: warnings,
    });
    const p = join(outDir, 'report.html');
    writeFileSync(p, html);
    written.push(p);
  }

  // `dilbench scaling` experiments under resultsDir: tables/inference_results.csv, figs/latency_curve.*, a report.md section
  const { addScalingToReport } = await import('../../scaling/report.js');
  const scaling = await addScalingToReport(resultsDir, outDir, { csv: want('csv'), markdown: want('md'), figureFormats });
  written.push(...scaling.files);
  warnings.push(...scaling.warnings);

  for (const w of warnings) log(`warning: ${w}`);
  return { files: written, resultFiles: loaded.files.length, rows: rows.length, historyEntries: history.entries.length, warnings };
}
