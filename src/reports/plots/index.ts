// Plots for benchmark results: Vega-Lite specs (specs.ts) rendered to SVG and PNG in Node (render.ts).
// `writeSuitePlots` is what a suite runner calls after writing its result files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultFile } from '../../results/types.js';
import { renderSvg, svgToPng } from './render.js';
import {
  buildSuiteSpecs,
  performanceOverTimeSpec,
  type HistoryPoint,
  type PlotKind,
  type VlSpec,
} from './specs.js';
import { makeDirectory } from '../../results/output-dir.js';

export * from './specs.js';
export * from './render.js';
export * from './data.js';

export type PlotFormat = 'svg' | 'png';

export interface WritePlotsOptions {
  /** implementation the speedup plot compares against (default 'naive') */
  baseline?: string;
  /** file formats to write (default both) */
  formats?: PlotFormat[];
  /** prefix for the file names (default '<suite>_'); files are <prefix><kind>.<format> */
  prefix?: string;
}

/** Render one spec into `outputDir/<name>.<format>` for each format; returns the paths written. */
export async function writePlot(
  spec: VlSpec,
  outputDir: string,
  name: string,
  formats: PlotFormat[] = ['svg', 'png'],
): Promise<string[]> {
  makeDirectory(outputDir);
  const svg = await renderSvg(spec);
  const written: string[] = [];
  if (formats.includes('svg')) {
    const p = join(outputDir, `${name}.svg`);
    writeFileSync(p, svg);
    written.push(p);
  }
  if (formats.includes('png')) {
    const p = join(outputDir, `${name}.png`);
    writeFileSync(p, svgToPng(svg).png);
    written.push(p);
  }
  return written;
}

/**
 * Write every plot that applies to `resultFile` (latency, memory, throughput, speedup,
 * optimization-impact, ring) into `outputDir` as `<suite>_<kind>.svg|png`. Plots with no data
 * (no baseline rows, no ring rows, ...) are left out. A plot that fails to render is reported on
 * stderr and skipped, so a results run never dies from a plot. Returns the paths written.
 */
export async function writeSuitePlots(
  resultFile: ResultFile,
  outputDir: string,
  options: WritePlotsOptions = {},
): Promise<string[]> {
  const formats = options.formats ?? ['svg', 'png'];
  const prefix = options.prefix ?? `${sanitize(resultFile.suite || 'results')}_`;
  const specs = buildSuiteSpecs(resultFile, { baseline: options.baseline });
  const written: string[] = [];
  for (const [kind, spec] of Object.entries(specs) as [PlotKind, VlSpec][]) {
    try {
      written.push(...(await writePlot(spec, outputDir, `${prefix}${kind}`, formats)));
    } catch (err) {
      process.stderr.write(
        `dilbench: could not render the ${kind} plot: ${(err as Error).message}\n`,
      );
    }
  }
  return written;
}

/** Write the performance-over-time plot from history entries; returns the paths (none without data). */
export async function writePerformanceOverTime(
  entries: HistoryPoint[],
  outputDir: string,
  options: { formats?: PlotFormat[]; name?: string } = {},
): Promise<string[]> {
  const spec = performanceOverTimeSpec(entries);
  if (!spec) return [];
  return writePlot(
    spec,
    outputDir,
    options.name ?? 'performance-over-time',
    options.formats ?? ['svg', 'png'],
  );
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-');
}
