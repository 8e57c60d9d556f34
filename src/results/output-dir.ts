// Output directories: created and proven writable before any measurement, and created without
// Node's recursive mkdir, which loops forever (at 100% CPU, deaf to signals, since it blocks the
// event loop) on paths under /proc such as /proc/nope.
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';

/** Creates `dir` and its missing parents one level at a time; throws the first failure (ENOENT, ENOTDIR, EACCES, ...). */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    try {
      if (!statSync(p).isDirectory()) {
        const e = new Error(`ENOTDIR: ${p} is a file, not a directory`) as NodeJS.ErrnoException;
        e.code = 'ENOTDIR';
        throw e;
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.push(p);
      const parent = dirname(p);
      if (parent === p) break;
      p = parent;
    }
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * Creates `dir` and writes (then removes) a probe file in it, so a run learns that its results
 * cannot be saved before it samples anything. Throws a ConfigError naming `field`.
 */
export function assertWritableDirectory(dir: string, field = 'outputDir'): string {
  const abs = resolve(dir);
  const probe = resolve(abs, `.dilbench-write-test-${process.pid}-${Date.now()}`);
  try {
    makeDirectory(abs);
    const fd = openSync(probe, 'w');
    try {
      writeSync(fd, 'ok');
    } finally {
      closeSync(fd);
    }
    rmSync(probe, { force: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code
      ? `${err.code}: ${err.message.replace(/^\w+: /, '')}`
      : String(err.message ?? e);
    throw new ConfigError(
      field,
      dir,
      'a directory that exists or can be created, and is writable',
      `cannot write there: ${why}`,
    );
  }
  return abs;
}
