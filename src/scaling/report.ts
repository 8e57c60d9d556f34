// What `dilbench report` adds for `dilbench scaling` experiments found under its results dir:
// tables/inference_results.csv, figs/latency_curve.(svg|png) and an "Inference scaling" section
// appended to report.md.
import { appendFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeScalingOutputs } from './run.js';

export interface ScalingReportOptions {
  csv: boolean;
  /** figures and the report.md section */
  markdown: boolean;
  figureFormats?: ('svg' | 'png')[];
}

export async function addScalingToReport(
  resultsDir: string,
  outDir: string,
  opts: ScalingReportOptions,
): Promise<{ files: string[]; warnings: string[] }> {
  const { loadScalingFiles } = await import('./run.js');
  if (!loadScalingFiles(resultsDir).files.length) return { files: [], warnings: [] };
  if (!opts.csv && !opts.markdown) return { files: [], warnings: [] };
  const res = await writeScalingOutputs(resultsDir, outDir, {
    plots: opts.markdown,
    figureFormats: opts.figureFormats ?? ['svg', 'png'],
  });
  const md = join(outDir, 'report.md');
  if (opts.markdown && existsSync(md)) {
    const lines = [
      '',
      '## Inference scaling',
      '',
      `${res.rows.length} points from \`dilbench scaling\` (table: \`tables/inference_results.csv\`).`,
      '',
    ];
    const fig =
      res.files.find((f) => f.endsWith('latency_curve.png')) ??
      res.files.find((f) => f.endsWith('latency_curve.svg'));
    if (fig)
      lines.push(`![Latency and peak memory vs context length](${relative(outDir, fig)})`, '');
    lines.push(
      '| experiment | model | arch | side | context | latency ms (median) | min-max ms | throughput | peak GB |',
      '|---|---|---|---|---:|---:|---:|---:|---:|',
    );
    for (const r of res.rows) {
      lines.push(
        `| ${r.exp_id} | ${r.model} | ${r.arch} | ${r.device}/${r.dtype} | ${r.context_length} | ${r.latency_ms.toFixed(2)} | ${r.latency_min_ms.toFixed(2)}-${r.latency_max_ms.toFixed(2)} | ${r.throughput.toFixed(1)} ${r.throughput_unit} | ${r.max_memory_gb.toFixed(3)}${r.memory_estimated ? ' (est.)' : ''} |`,
      );
    }
    appendFileSync(md, lines.join('\n') + '\n');
  }
  return {
    files: opts.csv ? res.files : res.files.filter((f) => !f.endsWith('.csv')),
    warnings: res.warnings,
  };
}
