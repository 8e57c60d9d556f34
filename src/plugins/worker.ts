// The plugin worker: a child Node process (child.ts) that loads the addon and the plugins and runs
// plugin kernels, so a plugin that crashes (SIGSEGV, abort) or hangs past the time limit costs the
// call in flight (one failed row) and a fresh worker, never the dilbench process. Requests and
// replies go over the IPC channel with the structured-clone serialization (typed arrays as is).
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../config/paths.js';
import { PLUGIN_CRASHED } from './types.js';

export interface WorkerError extends Error {
  code?: string;
  field?: string;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer?: NodeJS.Timeout;
  what: string;
}

function childScript(): string {
  return path.join(packageRoot(), 'dist', 'src', 'plugins', 'child.js');
}

function codedError(message: string, code: string, field?: string): WorkerError {
  const e: WorkerError = new Error(message);
  e.code = code;
  if (field) e.field = field;
  return e;
}

export class PluginWorker {
  private child: ChildProcess | undefined;
  private starting: Promise<void> | undefined;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private stderrTail = '';

  constructor(
    private readonly libraries: string[],
    private readonly opts: { timeLimitSeconds: number },
  ) {}

  /** Starts the worker (loading every library) unless it runs; rejects with the load error. */
  start(): Promise<void> {
    if (this.child && this.starting) return this.starting;
    const child = fork(childScript(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child = child;
    this.stderrTail = '';
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    child.on(
      'message',
      (m: {
        id: number;
        ok: boolean;
        value?: unknown;
        error?: { message: string; code?: string; field?: string };
      }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.settle(m.id);
        if (m.ok) p.resolve(m.value);
        else
          p.reject(
            codedError(
              m.error?.message ?? 'plugin worker error',
              m.error?.code ?? 'ERR_DILBENCH_INTERNAL',
              m.error?.field,
            ),
          );
      },
    );
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.starting = undefined;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
      for (const [id, p] of [...this.pending]) {
        this.settle(id);
        p.reject(
          codedError(
            `the plugin worker ${how} during ${p.what}${tail ? ` (stderr: ${tail})` : ''}`,
            PLUGIN_CRASHED,
          ),
        );
      }
    });
    child.on('error', () => {
      /* reported through 'exit' */
    });
    this.unrefIfIdle();
    this.starting = this.send(
      'load',
      [this.libraries],
      `loading ${this.libraries.join(', ')}`,
    ).then(() => undefined);
    return this.starting;
  }

  /** One request; rejects with the worker's error, or PLUGIN_CRASHED when it dies or hangs past the limit. */
  async call<T>(op: string, args: unknown[], what: string): Promise<T> {
    await this.start();
    return (await this.send(op, args, what)) as T;
  }

  /** Fire-and-forget (dispose, cancel). */
  notify(op: string, args: unknown[]): void {
    try {
      this.child?.send({ id: 0, op, args });
    } catch {
      /* the worker is gone */
    }
  }

  close(): void {
    const c = this.child;
    this.child = undefined;
    this.starting = undefined;
    for (const [id, p] of [...this.pending]) {
      this.settle(id);
      p.reject(codedError('the plugin worker was closed', 'ERR_DILBENCH_CANCELLED'));
    }
    if (c && c.exitCode === null) c.kill('SIGKILL');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private send(op: string, args: unknown[], what: string): Promise<unknown> {
    const child = this.child;
    if (!child)
      return Promise.reject(
        codedError(`the plugin worker is not running (${what})`, PLUGIN_CRASHED),
      );
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject, what };
      const limitMs = this.opts.timeLimitSeconds * 1000;
      p.timer = setTimeout(() => {
        // a hang: the worker is killed; 'exit' rejects every call in flight
        this.stderrTail += `\n[dilbench] no answer after ${this.opts.timeLimitSeconds} s (the run's time limit); killed`;
        child.kill('SIGKILL');
      }, limitMs);
      this.pending.set(id, p);
      child.ref();
      (child.channel as { ref?: () => void } | undefined)?.ref?.();
      child.send({ id, op, args });
    });
  }

  private settle(id: number): void {
    const p = this.pending.get(id);
    if (p?.timer) clearTimeout(p.timer);
    this.pending.delete(id);
    this.unrefIfIdle();
  }

  // an idle worker never keeps the dilbench process alive
  private unrefIfIdle(): void {
    if (this.pending.size > 0 || !this.child) return;
    this.child.unref();
    (this.child.channel as { unref?: () => void } | undefined)?.unref?.();
  }
}
