// File helpers shared by `dilbench inference` and `dilbench scaling`: atomic binary writes, moving
// an unreadable file aside, PNG rendering of a Vega-Lite spec (vega loaded on demand).
import { existsSync, renameSync } from 'node:fs';
import { writeFileAtomic } from '../results/store.js';
import type { VlSpec } from '../reports/plots/specs.js';

/** Writes bytes to `path` atomically: the results store's writer (temp file + fsync + rename). */
export function writeBytesAtomic(path: string, bytes: Uint8Array): void {
  writeFileAtomic(path, bytes);
}

/** Renames `path` to `<path>.corrupt-<time>` (never over an existing file); returns the new name. */
export function moveAside(path: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let target = `${path}.corrupt-${stamp}`;
  for (let n = 2; existsSync(target); n++) target = `${path}.corrupt-${stamp}-${n}`;
  renameSync(path, target);
  return target;
}

/** Renders a Vega-Lite spec to PNG at `path` (atomically). */
export async function writePngAtomic(spec: VlSpec, path: string): Promise<void> {
  const { renderPng } = await import('../reports/plots/render.js');
  const { png } = await renderPng(spec);
  writeBytesAtomic(path, png);
}

/** RFC 4180 CSV of `rows` with `columns` (null/undefined -> empty). */
export function toCsvText(rows: readonly object[], columns: readonly string[]): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const line = (row: object): string => {
    const fields: Record<string, unknown> = { ...row };
    return columns.map((c) => cell(fields[c])).join(',');
  };
  return [columns.join(','), ...rows.map(line)].join('\n') + '\n';
}
