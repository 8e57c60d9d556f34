// Self-contained HTML report: one file with the vega and vega-lite runtimes inlined from
// node_modules (vega-embed is not a dependency: the page drives vega's View API directly), the
// Vega-Lite specs inlined as JSON, the tables and the environment. It opens from disk with no network:
// nothing is fetched, no fonts, no scripts from elsewhere. Tooltips on points come from a small
// handler in the page.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Environment } from '../../results/types.js';
import { formatBytes, formatLength } from '../plots/data.js';
import type { VlSpec } from '../plots/specs.js';
import { describeGpuPeak } from '../../roofline/index.js';

export interface HtmlChart {
  /** DOM id, unique in the page */
  id: string;
  title: string;
  spec: VlSpec;
}

export interface HtmlTableRow {
  exp_id: string;
  createdAt: string;
  latest: boolean;
  implementation: string;
  seqLen: number;
  effectiveSeqLen: number;
  batch: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  causal: boolean;
  dtype: string;
  device: string;
  memoryPool: boolean | null;
  patternCache: boolean | null;
  status: string;
  reason: string;
  medianMs: number | null;
  p10Ms: number | null;
  p90Ms: number | null;
  tokensPerSecond: number | null;
  gflops: number | null;
  percentOfPeak: number | null;
  peakMemoryBytes: number | null;
  /** measured under contention (src/measure/interference.ts); absent or null: not recorded */
  interferenceFlagged?: boolean | null;
  percentOfPeakLow?: number | null;
  percentOfPeakHigh?: number | null;
  overPeakNote?: string;
}

export interface HtmlRun {
  expId: string;
  suite: string;
  createdAt: string;
  path: string;
  environment: Environment;
  config: Record<string, unknown>;
  interrupted?: boolean;
  /** the run's interference sentence (other processes' CPU, flagged points) */
  interference?: string;
  charts: HtmlChart[];
  rows: HtmlTableRow[];
}

export interface HtmlReportModel {
  title: string;
  generatedAt: string;
  resultsDir: string;
  runs: HtmlRun[];
  latest: HtmlTableRow[];
  overview: HtmlChart[];
  notes: string[];
}

const require = createRequire(import.meta.url);

/** Text of a package's browser build (e.g. vega's build/vega.min.js), found beside its entry point. */
export function runtimeSource(pkg: 'vega' | 'vega-lite'): string {
  const file = pkg === 'vega' ? 'vega.min.js' : 'vega-lite.min.js';
  const candidates: string[] = [];
  try {
    candidates.push(join(dirname(require.resolve(pkg)), file));
  } catch {
    /* fall through to the node_modules walk */
  }
  let dir = process.cwd();
  for (;;) {
    candidates.push(join(dir, 'node_modules', pkg, 'build', file));
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  for (const c of candidates) {
    try {
      return readFileSync(c, 'utf8');
    } catch {
      /* next */
    }
  }
  throw new Error(`cannot find ${pkg}/build/${file}; is ${pkg} installed?`);
}

export function escapeHtml(s: unknown): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON safe inside <script type="application/json">. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** JavaScript source safe inside <script>. */
function scriptJs(src: string): string {
  return src.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (Math.abs(v) >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return v.toPrecision(digits);
}

/** % of peak with its interval, and over 100% with the reason (never bare) */
function percentText(r: HtmlTableRow): string {
  if (r.percentOfPeak === null) return '';
  const range = r.percentOfPeakLow != null && r.percentOfPeakHigh != null ? ` (${r.percentOfPeakLow.toFixed(0)}-${r.percentOfPeakHigh.toFixed(0)})` : '';
  return `${r.percentOfPeak.toFixed(1)}%${range}${r.overPeakNote && r.percentOfPeak > 100 ? `: ${r.overPeakNote}` : ''}`;
}

function flags(r: HtmlTableRow): string {
  const bits: string[] = [r.causal ? 'causal' : 'non-causal', `b${r.batch}`, `h${r.heads}${r.kvHeads !== r.heads ? `/kv${r.kvHeads}` : ''}`, `d${r.headDim}`, r.dtype, r.device];
  if (r.memoryPool !== null) bits.push(r.memoryPool ? 'pool' : 'no pool');
  if (r.patternCache !== null) bits.push(r.patternCache ? 'cache' : 'no cache');
  return bits.join(' ');
}

export function renderTable(rows: HtmlTableRow[], options: { showRun?: boolean } = {}): string {
  const head = [
    ...(options.showRun ? ['run'] : []),
    'implementation', 'seqLen', 'configuration', 'status', 'median ms (p10-p90)', 'tokens/s', 'GFLOP/s', '% peak', 'peak memory', 'latest',
  ];
  const body = rows
    .map((r) => {
      const seq = r.effectiveSeqLen !== r.seqLen ? `${formatLength(r.seqLen)} (ran ${r.effectiveSeqLen})` : formatLength(r.seqLen);
      const time = r.medianMs !== null ? `${fmt(r.medianMs)} (${fmt(r.p10Ms)}-${fmt(r.p90Ms)})` : '';
      const status = r.status === 'ok'
        ? (r.interferenceFlagged ? '<span class="contention" title="measured while other processes loaded the machine">ok, under contention</span>' : 'ok')
        : `<span class="st-${escapeHtml(r.status)}" title="${escapeHtml(r.reason)}">${escapeHtml(r.status)}</span>: ${escapeHtml(r.reason)}`;
      const cells = [
        ...(options.showRun ? [`<td class="run">${escapeHtml(r.exp_id)}</td>`] : []),
        `<td>${escapeHtml(r.implementation)}</td>`,
        `<td class="num">${escapeHtml(seq)}</td>`,
        `<td class="cfg">${escapeHtml(flags(r))}</td>`,
        `<td>${status}</td>`,
        `<td class="num">${time}</td>`,
        `<td class="num">${fmt(r.tokensPerSecond)}</td>`,
        `<td class="num">${fmt(r.gflops)}</td>`,
        `<td class="num">${escapeHtml(percentText(r))}</td>`,
        `<td class="num">${escapeHtml(formatBytes(r.peakMemoryBytes))}</td>`,
        `<td>${r.latest ? '<span class="latest" title="most recent result for this configuration">&#9733; latest</span>' : ''}</td>`,
      ];
      return `<tr class="${r.latest ? 'is-latest' : ''} status-${escapeHtml(r.status)}">${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<table class="results"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function renderEnvironment(env: Environment | undefined): string {
  if (!env) return '<p>No environment recorded.</p>';
  const items: [string, string][] = [
    ['CPU', env.cpuModel],
    ['cores', String(env.cpuCores ?? '')],
    ['SIMD level', env.simdLevel ?? ''],
    ['memory', `${formatBytes(env.totalMemoryBytes)} total, ${formatBytes(env.freeMemoryBytes)} free`],
    ['OS', env.os ?? ''],
    ['Node', env.nodeVersion ?? ''],
    ['dilbench', env.dilbenchVersion ?? ''],
    ['build', env.buildType ?? ''],
    ['git commit', env.gitCommit ?? 'not in a checkout'],
  ];
  if (env.hostname) items.push(['host', env.hostname]);
  if (env.peak) items.push(['measured peak', `${env.peak.fmaGflops.toFixed(1)} GFLOP/s FP32 FMA, ${env.peak.streamGBps.toFixed(1)} GB/s stream (${env.peak.threads} threads, ${env.peak.simdLevel})`]);
  if (env.gpuPeak) items.push(['measured GPU peak', describeGpuPeak(env.gpuPeak)]);
  if (env.gpu !== undefined) items.push(['GPU', typeof env.gpu === 'object' ? JSON.stringify(env.gpu) : String(env.gpu)]);
  return `<dl class="env">${items.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function chartDiv(c: HtmlChart): string {
  return `<figure class="chart-box"><div class="chart" id="${escapeHtml(c.id)}" data-title="${escapeHtml(c.title)}"></div><figcaption>${escapeHtml(c.title)}</figcaption></figure>`;
}

const CSS = `
:root { --fg:#1d1d1f; --muted:#555; --line:#ddd; --accent:#0072B2; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Helvetica, Arial, sans-serif; color: var(--fg); margin: 0; padding: 0 2rem 3rem; line-height: 1.45; }
header { border-bottom: 2px solid var(--accent); margin-bottom: 1rem; }
h1 { font-size: 1.7rem; margin: 1.2rem 0 .3rem; } h2 { font-size: 1.35rem; margin-top: 2.2rem; border-bottom: 1px solid var(--line); } h3 { font-size: 1.1rem; }
.meta, figcaption, .note { color: var(--muted); font-size: .9rem; }
nav ul { columns: 2; font-size: .95rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1.2rem; }
.chart-box { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; overflow-x: auto; max-width: 100%; }
table.results { border-collapse: collapse; font-size: .85rem; margin: .6rem 0; }
table.results th, table.results td { border: 1px solid var(--line); padding: .25rem .45rem; text-align: left; vertical-align: top; }
table.results th { background: #f3f6f9; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.cfg, td.run { font-size: .8rem; color: var(--muted); }
tr.is-latest td { background: #f2f8fc; }
.latest { color: #005a8c; font-weight: bold; white-space: nowrap; }
.st-skipped { color: #8a5a00; font-weight: bold; } .st-failed { color: #b00020; font-weight: bold; }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .9rem; }
dl.env dt { font-weight: bold; } dl.env dd { margin: 0; }
#dilbench-tooltip { position: fixed; pointer-events: none; background: rgba(255,255,255,.97); border: 1px solid #888; border-radius: 4px; padding: .35rem .5rem; font-size: .8rem; box-shadow: 0 2px 6px rgba(0,0,0,.2); display: none; z-index: 10; max-width: 420px; }
#dilbench-tooltip table td { padding: 0 .4rem 0 0; } #dilbench-tooltip td.k { color: var(--muted); }
.chart-error { color: #b00020; }
`;

// Runs in the page: compile each inlined Vega-Lite spec with vega-lite, render it with vega's View
// (SVG renderer) and attach the tooltip handler. Marks the container data-rendered when done.
const PAGE_SCRIPT = `
(function () {
  'use strict';
  var tip = document.getElementById('dilbench-tooltip');
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'})[c]; }); }
  function tooltip(handler, event, item, value) {
    if (value == null || value === '') { tip.style.display = 'none'; return; }
    var html;
    if (typeof value === 'object') {
      html = '<table>' + Object.keys(value).map(function (k) {
        var v = value[k]; if (v == null) v = '';
        return '<tr><td class="k">' + esc(k) + '</td><td>' + esc(v) + '</td></tr>';
      }).join('') + '</table>';
    } else { html = esc(value); }
    tip.innerHTML = html;
    tip.style.display = 'block';
    var x = event.clientX + 14, y = event.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth) x = Math.max(0, event.clientX - w - 14);
    if (y + h > window.innerHeight) y = Math.max(0, event.clientY - h - 14);
    tip.style.left = x + 'px'; tip.style.top = y + 'px';
  }
  var warnings = [];
  var logger = { level: function () { return logger; }, warn: function () { warnings.push([].slice.call(arguments).join(' ')); return logger; },
    info: function () { return logger; }, debug: function () { return logger; }, error: function () { console.error.apply(console, arguments); return logger; } };
  var specs = JSON.parse(document.getElementById('dilbench-specs').textContent);
  var pending = Object.keys(specs).map(function (id) {
    var el = document.getElementById(id);
    try {
      var vg = vegaLite.compile(specs[id], { logger: logger }).spec;
      var view = new vega.View(vega.parse(vg), { renderer: 'svg', container: el, hover: true, logLevel: vega.Error });
      view.tooltip(tooltip);
      return view.runAsync().then(function () { el.setAttribute('data-rendered', 'true'); window.dilbenchViews[id] = view; },
        function (e) { el.innerHTML = '<p class="chart-error">chart failed: ' + esc(e.message) + '</p>'; console.error(e); });
    } catch (e) {
      el.innerHTML = '<p class="chart-error">chart failed: ' + esc(e.message) + '</p>';
      console.error(e);
      return Promise.resolve();
    }
  });
  window.dilbenchViews = {};
  window.dilbenchReady = Promise.all(pending).then(function () { document.body.setAttribute('data-charts-ready', 'true'); return warnings; });
})();
`;

/** The whole report as one HTML document. */
export function renderHtmlReport(model: HtmlReportModel): string {
  const specs: Record<string, VlSpec> = {};
  const all = [...model.overview, ...model.runs.flatMap((r) => r.charts)];
  for (const c of all) {
    if (specs[c.id]) throw new Error(`duplicate chart id ${c.id}`);
    specs[c.id] = c.spec;
  }
  const runSections = model.runs
    .map((run, i) => {
      const anchor = `run-${i + 1}`;
      return `<section class="run" id="${anchor}">
<h2>${escapeHtml(run.suite)} <span class="meta">${escapeHtml(run.expId)}</span></h2>
<p class="meta">Run at ${escapeHtml(run.createdAt)} - ${escapeHtml(run.environment?.cpuModel ?? 'unknown machine')} - ${run.rows.length} result rows (${run.rows.filter((r) => r.status === 'ok').length} ok, ${run.rows.filter((r) => r.status === 'skipped').length} skipped, ${run.rows.filter((r) => r.status === 'failed').length} failed)${run.interrupted ? ' - <strong>interrupted</strong>' : ''} - file <code>${escapeHtml(run.path)}</code></p>
${run.interference ? `<p class="note interference">Interference: ${escapeHtml(run.interference)}.</p>` : ''}
<div class="charts">${run.charts.map(chartDiv).join('\n')}</div>
<h3>Results</h3>
${renderTable(run.rows)}
<details><summary>Configuration</summary><pre>${escapeHtml(JSON.stringify(run.config, null, 2))}</pre></details>
</section>`;
    })
    .join('\n');
  const envSections = model.runs
    .map((run) => `<h3>${escapeHtml(run.expId)}</h3>${renderEnvironment(run.environment)}`)
    .join('\n');
  const toc = model.runs.map((r, i) => `<li><a href="#run-${i + 1}">${escapeHtml(r.suite)} - ${escapeHtml(r.createdAt)}</a></li>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(model.title)}</title>
<style>${CSS}</style>
</head>
<body>
<div id="dilbench-tooltip" role="tooltip"></div>
<header>
<h1>${escapeHtml(model.title)}</h1>
<p class="meta">Generated ${escapeHtml(model.generatedAt)} from <code>${escapeHtml(model.resultsDir)}</code>: ${model.runs.length} result files, ${model.latest.length} configurations. Rows marked <span class="latest">&#9733; latest</span> are the most recent result for their configuration. Projected values (ring communication) are labelled as projections; everything else was measured.</p>
${model.notes.length ? `<ul class="note">${model.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
<nav><ul><li><a href="#latest">Latest result per configuration</a></li><li><a href="#over-time">Performance over time</a></li>${toc}<li><a href="#environment">Environment</a></li></ul></nav>
</header>
<main>
<section id="latest"><h2>Latest result per configuration</h2>
${renderTable(model.latest, { showRun: true })}
</section>
<section id="over-time"><h2>Performance over time</h2>
${model.overview.length ? `<div class="charts">${model.overview.map(chartDiv).join('\n')}</div>` : '<p class="note">No measured history yet.</p>'}
</section>
${runSections}
<section id="environment"><h2>Environment</h2>
${envSections}
</section>
</main>
<script type="application/json" id="dilbench-specs">${scriptJson(specs)}</script>
<script>${scriptJs(runtimeSource('vega'))}</script>
<script>${scriptJs(runtimeSource('vega-lite'))}</script>
<script>${scriptJs(PAGE_SCRIPT)}</script>
</body>
</html>
`;
}
