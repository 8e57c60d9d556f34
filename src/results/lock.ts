// The one lock rule of the files dilbench accumulates across runs (history.jsonl,
// inference_metrics.json): proper-lockfile's `<file>.lock`, a directory made with mkdir (atomic on
// local and network file systems). Its holder refreshes the lock's mtime every staleMs / 2, so a
// lock not refreshed for staleMs was left by a process that died or hangs and is taken over.
// Waiting for a held lock retries with jittered exponential backoff until timeoutMs.
import lockfile from 'proper-lockfile';

/** a lock whose mtime is older than this is taken over (its holder would have refreshed it) */
export const LOCK_STALE_MS = 10_000;
export const LOCK_TIMEOUT_MS = 30_000;

export interface LockOptions {
  /** give up after this long waiting for the lock (default 30 s) */
  timeoutMs?: number;
  /** a lock not refreshed for this long is stale (default 10 s; at least 2 s) */
  staleMs?: number;
}

/** The lock of `file` is held by another process for longer than the timeout. */
export class FileLockedError extends Error {
  readonly code = 'ERR_DILBENCH_LOCKED';
  constructor(
    readonly file: string,
    readonly timeoutMs: number,
  ) {
    super(
      `could not lock ${file} within ${timeoutMs} ms: another dilbench process holds ${lockPathOf(file)}`,
    );
    this.name = 'FileLockedError';
  }
}

export function lockPathOf(file: string): string {
  return `${file}.lock`;
}

/** Takes the lock of `file` (which need not exist), waiting up to timeoutMs; returns the release function. */
export async function acquireFileLock(
  file: string,
  options: LockOptions = {},
): Promise<() => Promise<void>> {
  const timeoutMs = options.timeoutMs ?? LOCK_TIMEOUT_MS;
  const minTimeout = 2;
  try {
    return await lockfile.lock(file, {
      realpath: false,
      stale: Math.max(2000, options.staleMs ?? LOCK_STALE_MS),
      retries: {
        retries: Math.ceil(timeoutMs / minTimeout) + 1,
        factor: 2,
        minTimeout,
        maxTimeout: 50,
        randomize: true,
        maxRetryTime: timeoutMs,
      },
      // a holder paused past staleMs lost the lock to another process: say so rather than crash
      onCompromised: (e) =>
        process.emitWarning(`the lock of ${file} was taken over while held: ${e.message}`, {
          code: 'DILBENCH_LOCK_COMPROMISED',
        }),
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') throw new FileLockedError(file, timeoutMs);
    throw e;
  }
}

/** Runs `fn` holding the lock of `file`; the lock is released whatever `fn` does. */
export async function withFileLock<T>(
  file: string,
  fn: () => T | Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const release = await acquireFileLock(file, options);
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined); // already released (compromised and taken over)
  }
}
