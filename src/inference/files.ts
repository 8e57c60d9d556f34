// File helpers shared by `dilbench inference` and `dilbench scaling`: atomic binary writes, moving
// an unreadable file aside, PNG rendering of a Vega-Lite spec (vega loaded on demand). Their CSV
// tables are written by the results' CSV writer (reports/csv.ts toCsvText).
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
