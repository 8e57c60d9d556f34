// `dilbench report [--results-dir benchmark_results] [--out report] [--format md|html|csv|json|all]`
import { Command, InvalidArgumentError, Option } from 'commander';
// Only types from the report modules at start-up: they pull in vega, vega-lite and the PNG
// renderer, which the action loads on demand so `dilbench --version` and the other commands start fast.
import type { ReportFormat } from '../../reports/report/index.js';
import type { PlotFormat } from '../../reports/plots/index.js';

/** The same list as REPORT_FORMATS in src/reports/report (checked against its type). */
const REPORT_FORMATS = [
  'md',
  'html',
  'csv',
  'json',
  'all',
] as const satisfies readonly ReportFormat[];

function parseFormats(value: string, previous: ReportFormat[] | undefined): ReportFormat[] {
  const out = [...(previous ?? [])];
  for (const v of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(REPORT_FORMATS as readonly string[]).includes(v)) {
      throw new InvalidArgumentError(
        `unknown format "${v}" (expected ${REPORT_FORMATS.join(', ')})`,
      );
    }
    out.push(v as ReportFormat);
  }
  return out;
}

function parseFigureFormats(value: string): PlotFormat[] {
  const out = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const v of out)
    if (v !== 'svg' && v !== 'png')
      throw new InvalidArgumentError(`unknown figure format "${v}" (expected svg, png)`);
  return out as PlotFormat[];
}

export function register(program: Command): void {
  program
    .command('report')
    .description(
      'aggregate result files and history into tables (CSV), figures (SVG/PNG), report.md, report.json and a self-contained report.html',
    )
    .option(
      '--results-dir <dir>',
      'directory with result JSON files and history.jsonl',
      'benchmark_results',
    )
    .option('--out <dir>', 'output directory', 'report')
    .addOption(
      new Option(
        '--format <formats>',
        'md, html, csv, json or all (repeat or comma-separate)',
      ).argParser(parseFormats),
    )
    .option(
      '--baseline <implementation>',
      'implementation the speedup plots compare against',
      'naive',
    )
    .option('--figure-formats <formats>', 'figure files to write: svg,png', parseFigureFormats, [
      'svg',
      'png',
    ] as PlotFormat[])
    .option('--title <title>', 'report title', 'dilbench report')
    .option('--quiet', 'print nothing but errors')
    .action(
      async (opts: {
        resultsDir: string;
        out: string;
        format?: ReportFormat[];
        baseline: string;
        figureFormats: PlotFormat[];
        title: string;
        quiet?: boolean;
      }) => {
        const quiet = opts.quiet === true;
        const { generateReport } = await import('../../reports/report/index.js');
        const result = await generateReport({
          resultsDir: opts.resultsDir,
          outDir: opts.out,
          formats: opts.format?.length ? opts.format : ['all'],
          baseline: opts.baseline,
          figureFormats: opts.figureFormats,
          title: opts.title,
          log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
        });
        if (result.resultFiles === 0 && !quiet) {
          process.stderr.write(`no result files found in ${opts.resultsDir}\n`);
        }
        if (!quiet) {
          process.stdout.write(
            `report: ${result.resultFiles} result files, ${result.rows} rows, ${result.historyEntries} history entries -> ${result.files.length} files in ${opts.out}\n`,
          );
        }
      },
    );
}
