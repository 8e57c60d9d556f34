// File helpers shared by `dilbench inference` and `dilbench scaling`: atomic binary writes, moving
// an unreadable file aside, PNG rendering of a Vega-Lite spec (vega loaded on demand).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { VlSpec } from '../reports/plots/specs.js';

/** Writes bytes to `path` atomically (temp file in the same directory + fsync + rename). */
export function writeBytesAtomic(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
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
export function toCsvText(rows: Record<string, unknown>[], columns: readonly string[]): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
