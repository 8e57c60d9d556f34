// `dilbench compare <baseline.json> <current.json>`: a CI gate. Exit 1 when any row is slower,
// 75 when the only slowdowns were measured under interference (retry), 0 otherwise, 2 on usage
// errors (unreadable or unparsable file, bad option, nothing comparable).
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { compareResults, EXIT_UNRELIABLE } from '../../compare/compare.js';
import { noiseFloorsFromHistory } from '../../compare/noise-floor.js';
import { formatJson, formatMarkdown } from '../../compare/format.js';
import { CompareInputError, loadResultFile } from '../../compare/load.js';
import { CliExit } from '../errors.js';

export interface CompareCliOptions {
  alpha?: string | number;
  threshold?: string | number;
  allowMismatch?: boolean;
  format?: string;
  output?: string;
  seed?: string | number;
  noiseFloor?: string | number;
  history?: string;
}

export interface CompareIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

class UsageError extends Error {}

function parseFraction(
  name: string,
  raw: string | number | undefined,
  dflt: number,
  lo: number,
  hi: number,
): number {
  if (raw === undefined) return dflt;
  const s = String(raw).trim();
  const v = s.endsWith('%') ? Number(s.slice(0, -1)) / 100 : Number(s);
  if (!Number.isFinite(v) || v < lo || v >= hi || (name === '--alpha' && v === 0)) {
    throw new UsageError(
      `invalid ${name}: ${JSON.stringify(s)}; allowed: a number in ${name === '--alpha' ? '(0, 1)' : '[0, 1)'}, e.g. 0.05 or 5%`,
    );
  }
  return v;
}

/**
 * Runs the comparison in-process; writes the report to `io.stdout` (or to `--output`) and
 * problems to `io.stderr`. Resolves to the exit code.
 */
export async function runCompare(
  baselinePath: string,
  currentPath: string,
  opts: CompareCliOptions = {},
  io: CompareIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    const alpha = parseFraction('--alpha', opts.alpha, 0.05, 0, 1);
    const threshold = parseFraction('--threshold', opts.threshold, 0.05, 0, 1);
    const format = opts.format ?? 'md';
    if (format !== 'md' && format !== 'json') {
      throw new UsageError(`invalid --format: ${JSON.stringify(format)}; allowed: md, json`);
    }
    let seed: number | undefined;
    if (opts.seed !== undefined) {
      seed = Number(opts.seed);
      if (!Number.isInteger(seed))
        throw new UsageError(`invalid --seed: ${JSON.stringify(opts.seed)}; allowed: an integer`);
    }
    const noiseFloor =
      opts.noiseFloor === undefined
        ? undefined
        : parseFraction('--noise-floor', opts.noiseFloor, 0, 0, 1);
    const baseline = await loadResultFile(baselinePath, 'baseline');
    const current = await loadResultFile(currentPath, 'current');
    const noiseFloors =
      opts.history !== undefined
        ? await noiseFloorsFromHistory(opts.history, [baseline.runId, current.runId])
        : undefined;
    const report = compareResults(baseline, current, {
      alpha,
      threshold,
      allowMismatch: opts.allowMismatch ?? false,
      ...(seed !== undefined ? { seed } : {}),
      ...(noiseFloor !== undefined ? { noiseFloor } : {}),
      ...(noiseFloors ? { noiseFloors } : {}),
    });
    const s = report.summary;
    const files = { baseline: baselinePath, current: currentPath };
    const text = format === 'json' ? formatJson(report, files) : formatMarkdown(report, files);
    if (opts.output) {
      await writeFile(opts.output, text);
      io.stdout.write(
        `compare: ${s.slower} slower, ${s.faster} faster, ${s.same} same, ${s.uncertain} uncertain, ${s.unreliable} unreliable; report in ${opts.output}\n`,
      );
    } else {
      io.stdout.write(text);
    }
    if (format === 'json' || opts.output)
      for (const w of report.warnings) io.stderr.write(`dilbench: warning: ${w}\n`);
    if (report.exitCode === EXIT_UNRELIABLE) {
      io.stderr.write(
        `dilbench: unreliable: ${s.unreliable} row(s) would be slower but were measured under interference; not a regression, retry on a quiet machine (exit ${EXIT_UNRELIABLE})\n`,
      );
    }
    if (report.exitCode === 2) {
      io.stderr.write(
        `dilbench: error: nothing compared: ${report.refused.length} row(s) refused because dtype, device or shapes differ (see the report; --allow-mismatch compares them anyway)\n`,
      );
    }
    return report.exitCode;
  } catch (e) {
    if (e instanceof UsageError || e instanceof CompareInputError || e instanceof RangeError) {
      io.stderr.write(`dilbench: error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

export function register(program: Command): void {
  program
    .command('compare')
    .description(
      'compare two result files row by row (ratio of medians with bootstrap CI, Mann-Whitney U); exit 1 when any row is slower',
    )
    .argument('<baseline>', 'baseline result JSON')
    .argument('<current>', 'current result JSON')
    .option('--alpha <p>', 'significance level of the Mann-Whitney U test (default 0.05)')
    .option(
      '--threshold <fraction>',
      'smallest change that counts, as a fraction or percent (default 0.05 = 5%)',
    )
    .option(
      '--allow-mismatch',
      'compare rows whose dtype, device or shapes differ (refused by default)',
    )
    .option('--format <md|json>', 'report format (default md)')
    .option('--output <file>', 'write the report to a file instead of stdout')
    .option('--seed <n>', 'bootstrap seed (default fixed, so reports are reproducible)')
    .option(
      '--noise-floor <fraction>',
      'rows from one run each: smallest change that may be called, fraction or percent (default 0.1 = 10%)',
    )
    .option(
      '--history <history.jsonl>',
      "derive each row's noise floor from earlier runs of the same configuration in this history file (>= 3 runs)",
    )
    .action(async (baseline: string, current: string, opts: CompareCliOptions) => {
      const code = await runCompare(baseline, current, opts);
      if (code !== 0) throw new CliExit(code, '');
    });
}
