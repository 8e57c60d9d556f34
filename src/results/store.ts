// Writes files atomically (temp file in the same directory + fsync + rename), so a reader never
// sees half a file; reports/write.ts writes a ResultFile's three views through it.
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ResultFile } from './types.js';
import { makeDirectory } from './output-dir.js';

/** Writes `content` to `path` atomically. */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const dir = dirname(path);
  makeDirectory(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let fd = openSync(tmp, 'w', 0o644);
  try {
    const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
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
  // make the rename itself durable where the platform allows fsync on a directory
  try {
    fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported here (e.g. Windows) */
  }
}

/** "2026-11-22T21:04:05.123Z" -> "2026-11-22T21-04-05-123Z" (safe on every file system). */
export function fileTimestamp(iso: string): string {
  return iso.replace(/[:.]/g, '-');
}

export function resultBaseName(file: Pick<ResultFile, 'suite' | 'createdAt'>): string {
  return `${file.suite}_${fileTimestamp(file.createdAt)}`;
}

/**
 * Writes `content` atomically to `path` only when nothing is there yet (temp file + fsync +
 * link, which fails on an existing name): returns false, writing nothing, when `path` exists.
 */
export function writeFileAtomicExclusive(path: string, content: string): boolean {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.x.tmp`);
  writeFileAtomic(tmp, content);
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw e;
    // no hard links on this file system: check, then rename (a narrow race, no torn file)
    if (existsSync(path)) return false;
    renameSync(tmp, path);
    return true;
  } finally {
    rmSync(tmp, { force: true });
  }
}
