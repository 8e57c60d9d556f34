import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/report.js';
import { generateReport, loadResultFiles } from '../../src/reports/report/index.js';
import type { ResultFile } from '../../src/results/types.js';
import { FIXTURE_DIR, makeResultsDir, pngSize } from './helpers.js';

function parseCsv(text: string): Record<string, string | undefined>[] {
  const [head, ...lines] = text.trim().split('\n');
  const cols = head!.split(','); // split always yields at least one part
  // fixture values have no quoted commas except in reason fields; split on commas outside quotes
  return lines.map((line) => {
    const cells: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (q) {
        if (c === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (c === '"') q = false;
        else cur += c;
      } else if (c === '"') q = true;
      else if (c === ',') {
        cells.push(cur);
        cur = '';
      } else cur += c;
    }
    cells.push(cur);
    return Object.fromEntries(cols.map((k, i) => [k, cells[i]]));
  });
}

describe('dilbench report', () => {
  let resultsDir: string;
  let out: string;
  let fixtures: ResultFile[];
  beforeAll(async () => {
    resultsDir = makeResultsDir();
    fixtures = loadResultFiles(resultsDir).files.map((f) => f.file);
    out = mkdtempSync(join(tmpdir(), 'dilbench-report-'));
    const r = await generateReport({ resultsDir, outDir: out });
    expect(r.resultFiles).toBe(4);
  }, 300_000);

  it('writes every table, figure, report.md, report.json and report.html', () => {
    for (const f of [
      'tables/results.csv',
      'tables/latest.csv',
      'tables/history.csv',
      'tables/environments.csv',
      'report.md',
      'report.json',
      'report.html',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const figs = readdirSync(join(out, 'figs'));
    // figures are named by suite and time, as the reader knows the run, never by its UUID
    for (const f of fixtures) {
      const stem = `${f.suite}_${f.createdAt.slice(0, 10)}_${f.createdAt.slice(11, 13)}${f.createdAt.slice(14, 16)}`;
      for (const kind of ['latency', 'memory', 'throughput']) {
        expect(figs).toContain(`${stem}_${kind}.svg`);
        expect(figs).toContain(`${stem}_${kind}.png`);
      }
      expect(figs.some((n) => n.includes(f.runId))).toBe(false);
    }
    expect(figs.filter((f) => f.endsWith('_speedup.svg'))).toHaveLength(2);
    expect(figs.filter((f) => f.endsWith('_optimization-impact.svg'))).toHaveLength(1);
    expect(figs.filter((f) => f.endsWith('_ring.svg'))).toHaveLength(1);
    expect(figs).toContain('performance-over-time.svg');
    expect(figs).toContain('performance-over-time.png');
    const png = readFileSync(join(out, 'figs', 'performance-over-time.png'));
    expect(pngSize(png).width).toBeGreaterThan(600);
  });

  it('results.csv has one row per implementation, length and run, with the latest marked', () => {
    const rows = parseCsv(readFileSync(join(out, 'tables/results.csv'), 'utf8'));
    expect(rows).toHaveLength(fixtures.reduce((n, f) => n + f.results.length, 0));
    expect(Object.keys(rows[0]!).slice(0, 5)).toEqual([
      'exp_id',
      'suite',
      'createdAt',
      'latest',
      'implementation',
    ]);
    for (const col of [
      'seqLen',
      'medianMs',
      'tokensPerSecond',
      'peakMemoryBytes',
      'status',
      'percentOfPeak',
    ])
      expect(Object.keys(rows[0]!)).toContain(col);
    // flash at 2K ran in both sequence-ranges runs (flash at 4K also ran later in the ring run, which is then its latest)
    const flash4k = rows.filter(
      (r) => r.implementation === 'flash' && r.seqLen === '2048' && r.suite === 'sequence-ranges',
    );
    expect(flash4k).toHaveLength(2);
    const newer = flash4k.find((r) => r.createdAt?.startsWith('2026-11-21'))!;
    const older = flash4k.find((r) => r.createdAt?.startsWith('2026-11-20'))!;
    expect(newer.latest).toBe('true');
    expect(older.latest).toBe('false');
    const flash4kAll = rows.filter((r) => r.implementation === 'flash' && r.seqLen === '4096');
    expect(flash4kAll.filter((r) => r.latest === 'true').map((r) => r.suite)).toEqual(['ring']);
    expect(Number(newer.medianMs)).toBeGreaterThan(0);
    const skipped = rows.find((r) => r.status === 'skipped')!;
    expect(skipped.medianMs).toBe('');
    expect(skipped.reason).toMatch(/budget/);
    const latest = parseCsv(readFileSync(join(out, 'tables/latest.csv'), 'utf8'));
    expect(latest.every((r) => r.latest === 'true')).toBe(true);
    expect(latest.length).toBe(rows.filter((r) => r.latest === 'true').length);
    const history = parseCsv(readFileSync(join(out, 'tables/history.csv'), 'utf8'));
    expect(history).toHaveLength(rows.length); // every row is in the history once, the torn line is skipped
  });

  it('report.md answers first with the one ranking rule, names runs by suite and time, links figures that exist; report.json parses', () => {
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(12);
    for (const l of links) expect(existsSync(resolve(out, l)), l).toBe(true);
    // the answer is the first section, for the newest run that has a ranking (the ring run at 12:00)
    const sections = [...md.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(sections[0]).toBe('Answer: ring 2026-11-21 12:00 UTC');
    expect(md).toContain('### Fastest exact attention per length');
    // optimization-impact configurations are never ranked: its run has no dense ranking
    const opt = md.slice(
      md.indexOf('## optimization-impact 2026-11-21 11:00 UTC'),
      md.indexOf('## sequence-ranges 2026-11-21 09:30 UTC'),
    );
    expect(opt).not.toContain('Fastest exact attention');
    expect(md).not.toMatch(/block-sparse \(pool/);
    expect(sections).toContain('sequence-ranges 2026-11-20 10:00 UTC');
    expect(md).toContain('<summary>Latest result per configuration');
    expect(md).toContain('Intel(R) Xeon(R) Platinum 8488C');
    expect(md).toMatch(/skipped 1 torn or invalid line/);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
      runs: unknown[];
      rows: unknown[];
      latest: unknown[];
      history: { skippedLines: number[] };
    };
    expect(json.runs).toHaveLength(4);
    expect(json.history.skippedLines).toHaveLength(1);
  });

  it('report.html is self-contained: runtimes and specs inlined, nothing loaded from elsewhere', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/<img[^>]+src="http/i);
    expect(html).toContain('id="dilbench-specs"');
    expect(html).toContain('vegaLite'); // vega-lite runtime inlined
    expect(html).toMatch(/class="chart" id="chart-1-latency"/);
    expect(html).toContain('<option value="3" selected>ring 2026-11-21 12:00 UTC</option>');
    expect(html).not.toContain('&#9733; latest');
    expect(html).toContain('id="environment"');
    expect(html.length).toBeGreaterThan(700_000);
  });

  it('runs from the command line with --format csv only', async () => {
    const out2 = mkdtempSync(join(tmpdir(), 'dilbench-report-cli-'));
    const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
    register(program);
    await program.parseAsync([
      'node',
      'dilbench',
      'report',
      '--results-dir',
      FIXTURE_DIR,
      '--out',
      out2,
      '--format',
      'csv',
      '--quiet',
    ]);
    expect(readdirSync(out2)).toEqual(['tables']);
    expect(readdirSync(join(out2, 'tables')).sort()).toEqual([
      'environments.csv',
      'history.csv',
      'latest.csv',
      'results.csv',
    ]);
    await expect(
      program.parseAsync([
        'node',
        'dilbench',
        'report',
        '--results-dir',
        FIXTURE_DIR,
        '--out',
        out2,
        '--format',
        'pdf',
      ]),
    ).rejects.toThrow(/unknown format/);
  });

  it('an empty or missing results directory gives an empty report, not a crash', async () => {
    const out3 = mkdtempSync(join(tmpdir(), 'dilbench-report-empty-'));
    const r = await generateReport({
      resultsDir: join(out3, 'nothing-here'),
      outDir: out3,
      formats: ['md', 'html', 'csv', 'json'],
    });
    expect(r.resultFiles).toBe(0);
    expect(existsSync(join(out3, 'report.html'))).toBe(true);
    expect(existsSync(join(out3, 'report.md'))).toBe(true);
  });
});
