// Python callables as plugins (issue 15): `file.py:function` or `package.module:function`, run in
// one persistent Python worker (python/plugin_worker.py, the line-JSON protocol of
// src/frameworks/python/ extended to several callables and sessions). Each call is timed inside
// Python by perf_counter_ns (CUDA: CUDA events after a synchronize), every raw sample is kept; a Python exception
// fails the call, a crash or a hang past the time limit kills the worker (a fresh one serves the
// next point). Validation before timing as for C plugins (isolated-binding.ts).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type {
  NativeBinding,
  NativeImplementationInfo,
  NativePlan,
  NativeProblem,
  NativeSession,
  PoolStats,
} from '../native/binding.js';
import type { Validation } from '../results/types.js';
import { errors, toleranceFor, validationOf } from '../results/validation.js';
import { ConfigError } from '../config/errors.js';
import { packageRoot } from '../config/paths.js';
import { pythonExecutable } from '../frameworks/pytorch.js';
import { createRng } from '../stats/random.js';
import { sha256File } from './load.js';
import { PLUGIN_CRASHED, PLUGIN_EXCEPTION, VALIDATION_FAILED, type PluginRecord } from './types.js';
import { EMPTY_POOL, validationProblem } from './isolated-binding.js';

interface CallableInfo {
  spec: string;
  name: string;
  function: string;
  path: string;
  devices: string[];
  dtypes: string[];
}
interface Ready {
  python: string;
  executable: string;
  torch: string;
  callables: CallableInfo[];
}

/** The worker's first line (src/plugins/python/plugin_worker.py), its fields checked. */
function readyOf(msg: Record<string, unknown>): Ready {
  const { python, executable, torch, callables } = msg;
  if (
    typeof python !== 'string' ||
    typeof executable !== 'string' ||
    typeof torch !== 'string' ||
    !Array.isArray(callables)
  ) {
    throw coded(
      `the Python plugin worker's ready line lacks python, executable, torch or callables: ${JSON.stringify(msg).slice(0, 200)}`,
      PLUGIN_CRASHED,
    );
  }
  // each callable's fields are written by the same worker from its inspection of the function
  return { python, executable, torch, callables: callables as CallableInfo[] };
}

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** One Python worker process; requests are answered in order, one line each. */
export class PythonWorker {
  private child: ChildProcessWithoutNullStreams | undefined;
  private ready: Promise<Ready> | undefined;
  private buffer = '';
  private stderrTail = '';
  private queue: {
    resolve: (v: Record<string, unknown>) => void;
    reject: (e: Error) => void;
    what: string;
    timer?: NodeJS.Timeout;
  }[] = [];

  constructor(
    private readonly specs: string[],
    private readonly opts: { threads: number; timeLimitSeconds: number; python?: string },
  ) {}

  start(): Promise<Ready> {
    if (this.child && this.ready) return this.ready;
    const script = path.join(packageRoot(), 'src', 'plugins', 'python', 'plugin_worker.py');
    const child = spawn(
      this.opts.python ?? pythonExecutable(),
      [script, JSON.stringify({ specs: this.specs, threads: this.opts.threads })],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.buffer = '';
    this.stderrTail = '';
    child.stdout.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const p = this.queue.shift();
        if (!p) continue;
        if (p.timer) clearTimeout(p.timer);
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          p.reject(
            coded(
              `the Python plugin worker wrote a line that is not JSON during ${p.what}: ${line.slice(0, 200)}`,
              PLUGIN_CRASHED,
            ),
          );
          continue;
        }
        if (typeof msg.error === 'string') {
          const tb =
            typeof msg.traceback === 'string'
              ? msg.traceback.trim().split('\n').slice(-3, -1).join(' | ').trim()
              : '';
          p.reject(coded(`${msg.error}${tb ? ` (at ${tb})` : ''}`, PLUGIN_EXCEPTION));
        } else p.resolve(msg);
      }
      this.unrefIfIdle();
    });
    child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.ready = undefined;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
      for (const p of this.queue.splice(0)) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(
          coded(
            `the Python plugin worker ${how} during ${p.what}${tail ? ` (stderr: ${tail})` : ''}`,
            PLUGIN_CRASHED,
          ),
        );
      }
    });
    child.on('error', (e) => {
      for (const p of this.queue.splice(0))
        p.reject(
          coded(
            `could not start ${this.opts.python ?? pythonExecutable()}: ${e.message}`,
            PLUGIN_CRASHED,
          ),
        );
    });
    // the first line (ready or error) answers this "request"
    this.ready = this.enqueue(`loading ${this.specs.join(', ')}`).then(readyOf);
    return this.ready;
  }

  async request(req: Record<string, unknown>, what: string): Promise<Record<string, unknown>> {
    await this.start();
    const child = this.child;
    if (!child) throw coded(`the Python plugin worker is not running (${what})`, PLUGIN_CRASHED);
    const answer = this.enqueue(what);
    child.stdin.write(`${JSON.stringify(req)}\n`);
    return answer;
  }

  close(): void {
    const c = this.child;
    this.child = undefined;
    this.ready = undefined;
    for (const p of this.queue.splice(0)) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(coded('the Python plugin worker was closed', 'ERR_DILBENCH_CANCELLED'));
    }
    if (c && c.exitCode === null) c.kill('SIGKILL');
  }

  private enqueue(what: string): Promise<Record<string, unknown>> {
    const child = this.child!;
    child.ref();
    if (child.stdout instanceof Socket) child.stdout.ref();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stderrTail += `\n[dilbench] no answer after ${this.opts.timeLimitSeconds} s (the run's time limit); killed`;
        child.kill('SIGKILL');
      }, this.opts.timeLimitSeconds * 1000);
      this.queue.push({ resolve, reject, what, timer });
    });
  }

  // an idle worker never keeps the dilbench process alive
  private unrefIfIdle(): void {
    if (this.queue.length > 0 || !this.child) return;
    this.child.unref();
    // piped stdio are sockets (typed as plain streams)
    for (const s of [this.child.stdout, this.child.stderr, this.child.stdin])
      if (s instanceof Socket) s.unref();
  }
}

function pluginError(spec: string, why: string): ConfigError {
  return new ConfigError(
    'plugin',
    spec,
    'file.py:function or package.module:function (a torch callable with the scaled_dot_product_attention convention)',
    why,
  );
}

const KNOWN_FUNCTIONS = new Set([
  'dense',
  'kv-cache',
  'dilated',
  'dilated-grouped',
  'block-sparse',
]);
const SNAKE: Record<string, string> = {
  segmentLengths: 'segment_lengths',
  dilationRates: 'dilation_rates',
  promptLen: 'prompt_len',
  newTokens: 'new_tokens',
  blockPattern: 'block_pattern',
  blockSize: 'block_size',
  window: 'window',
  stride: 'stride',
  density: 'density',
};

/** A seeded N(0, 1) Float32Array (Box-Muller on the suite's PRNG). */
function normals(n: number, rng: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * rng();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

class PythonSession implements NativeSession {
  private disposed = false;
  constructor(
    private readonly worker: PythonWorker,
    private readonly sid: number,
    readonly plan: NativePlan,
    readonly validation: Validation | null,
    private readonly name: string,
    private readonly scratch: string,
  ) {}
  async sample(iterations: number): Promise<Float64Array> {
    const r = await this.worker
      .request({ op: 'sample', sid: this.sid, iterations }, `sampling ${this.name}`)
      .catch((e: Error) => {
        throw Object.assign(e, { message: `Python plugin '${this.name}': ${e.message}` });
      });
    return Float64Array.from(r.ns as number[]);
  }
  async output(): Promise<Float32Array> {
    const file = path.join(this.scratch, `out-${this.sid}.bin`);
    await this.worker.request(
      { op: 'output', sid: this.sid, path: file },
      `the output of ${this.name}`,
    );
    const buf = readFileSync(file);
    return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
  }
  input(): Float32Array {
    throw coded(
      `the inputs of Python plugin '${this.name}' live in the Python worker`,
      'ERR_DILBENCH_UNSUPPORTED',
    );
  }
  poolStats(): PoolStats {
    return EMPTY_POOL;
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.worker.request({ op: 'dispose', sid: this.sid }, 'dispose').catch(() => {});
  }
}

export interface PythonPlugins {
  records: PluginRecord[];
  /** `binding` with the callables added (listImplementations, plan, createSession) */
  wrap(binding: NativeBinding): NativeBinding;
  close(): void;
}

/**
 * Starts the Python worker with every callable; a ConfigError (exit 2) names the plugin when
 * Python, torch, the file, the module or the function is missing, or two callables share a name.
 */
export async function loadPythonPlugins(
  specs: string[],
  base: NativeBinding,
  opts: { threads: number; timeLimitSeconds: number; python?: string },
): Promise<PythonPlugins> {
  const worker = new PythonWorker(specs, opts);
  let ready: Ready;
  try {
    ready = await worker.start();
  } catch (e) {
    worker.close();
    throw pluginError(
      specs.join(', '),
      `Python plugin worker (${opts.python ?? pythonExecutable()}): ${(e as Error).message}`,
    );
  }
  const builtIn = base.listImplementations().filter((i) => (i.origin ?? 'built-in') === 'built-in');
  for (const c of ready.callables) {
    if (base.listImplementations().some((i) => i.name === c.name)) {
      worker.close();
      throw pluginError(
        c.spec,
        `duplicate implementation name '${c.name}': already declared by dilbench or another plugin (set dilbench_name on the callable)`,
      );
    }
  }
  const records: PluginRecord[] = ready.callables.map((c) => ({
    spec: c.spec,
    kind: 'python',
    path: c.path,
    sha256: sha256File(c.path),
    implementations: [c.name],
    python: { executable: ready.executable, version: ready.python, torch: ready.torch },
  }));
  const byName = new Map(ready.callables.map((c) => [c.name, c]));
  const known = (c: CallableInfo) => (KNOWN_FUNCTIONS.has(c.function) ? c.function : null);
  // the built-in whose plan (counts, effective length) and reference stand for the declared function
  const definingOf = (fn: string | null) =>
    (fn ? builtIn.find((i) => i.function === fn && i.device === 'cpu')?.name : undefined) ??
    'flash';
  const entries: NativeImplementationInfo[] = ready.callables.flatMap((c) =>
    c.devices.map((device) => {
      const fn = known(c);
      const def = builtIn.find((i) => i.name === definingOf(fn));
      return {
        name: c.name,
        device: device as 'cpu' | 'cuda',
        dtypes: c.dtypes as NativeImplementationInfo['dtypes'],
        description: `Python callable ${c.spec} (${c.path})`,
        function: fn as NativeImplementationInfo['function'],
        exactDense: fn ? (def?.exactDense ?? 'never') : 'never',
        partner: null,
        params: fn ? (def?.params ?? []) : [],
        telemetry: [],
        origin: 'python' as const,
        countsSource: fn ? `function:${fn}` : 'none',
        pluginPath: c.path,
      };
    }),
  );
  const scratch = mkdtempSync(path.join(tmpdir(), 'dilbench-python-plugin-'));
  let nextSid = 1;
  const checks = new Map<string, Promise<Validation | null>>();

  const wrap = (binding: NativeBinding): NativeBinding => {
    const definingProblem = (p: NativeProblem): NativeProblem => ({
      ...p,
      implementation: definingOf(known(byName.get(p.implementation)!)),
      device: 'cpu',
      dtype: 'fp32',
    });
    const paramsOf = (p: NativeProblem): Record<string, unknown> => {
      const fn = known(byName.get(p.implementation)!);
      if (!fn || typeof binding.resolvedParams !== 'function') return {};
      const r = binding.resolvedParams(definingProblem(p), fn) as Record<string, unknown>;
      // prefill is not in the plugin contract: a plugin's kv-cache attends its prompt (planOf)
      return Object.fromEntries(
        Object.entries(r)
          .filter(([k]) => k !== 'prefill')
          .map(([k, v]) => [SNAKE[k] ?? k, v]),
      );
    };
    const planOf = (p: NativeProblem, o: Parameters<NativeBinding['plan']>[1]): NativePlan => {
      if (p.prefill !== undefined && p.prefill !== 'attend')
        throw new ConfigError(
          'prefill',
          p.prefill,
          `attend for plugin implementations ('skip' is for the built-in kv-cache kernels)`,
        );
      const plan = binding.plan(definingProblem(p), o);
      // memory: inputs and output as the Python side holds them; no dilbench workspace
      const eb = p.dtype === 'fp32' ? 4 : 2;
      const io = (2 * p.batch * p.heads + 2 * p.batch * p.kvHeads) * p.seqLen * p.headDim * eb;
      return {
        ...plan,
        workspaceBytes: 0,
        inputBytes: io * 0.75,
        outputBytes: io * 0.25,
        totalBytes: io,
        ...(known(byName.get(p.implementation)!) ? {} : { flops: 0, bytesMoved: 0 }),
      };
    };
    async function check(p: NativeProblem): Promise<Validation | null> {
      if (!known(byName.get(p.implementation)!)) return null;
      const vp = validationProblem(p);
      const key = JSON.stringify(vp);
      let pending = checks.get(key);
      if (!pending) {
        pending = (async () => {
          const rng = createRng(vp.seed);
          const q = normals(vp.heads * vp.seqLen * vp.headDim, rng);
          const k = normals(vp.kvHeads * vp.seqLen * vp.headDim, rng);
          const v = normals(vp.kvHeads * vp.seqLen * vp.headDim, rng);
          const input = path.join(scratch, `validate-${nextSid}.bin`);
          writeFileSync(
            input,
            Buffer.concat([q, k, v].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))),
          );
          const sid = nextSid++;
          await worker.request(
            {
              op: 'prepare',
              sid,
              name: vp.implementation,
              problem: vp,
              params: paramsOf(vp),
              input,
            },
            `validation of ${vp.implementation}`,
          );
          const session = new PythonSession(
            worker,
            sid,
            planOf(vp, {
              threads: 1,
              useMemoryPool: true,
              usePatternCache: true,
              memoryLimitBytes: 0,
            }),
            null,
            vp.implementation,
            scratch,
          );
          try {
            const out = await session.output();
            const ref = await binding.reference(definingProblem(vp), q, k, v);
            const checked = validationOf(
              'float64-reference',
              errors(out, ref),
              toleranceFor(p.dtype),
              p.dtype,
            );
            return { ...checked, checkedAt: { seqLen: vp.seqLen, batch: 1 } };
          } finally {
            session.dispose();
          }
        })();
        checks.set(key, pending);
        pending.catch(() => checks.delete(key));
      }
      const v = await pending;
      if (v && !v.passed) {
        throw Object.assign(
          new Error(
            `Python plugin '${p.implementation}' failed validation against the float64 reference of its declared function (seqLen ${vp.seqLen}, batch 1): ` +
              `max abs error ${v.maxAbsError.toExponential(3)}, relative L2 error ${v.relL2Error.toExponential(3)} (allowed ${v.tolerance.maxAbs}, ${v.tolerance.relL2}); not timed`,
          ),
          { code: VALIDATION_FAILED, validation: v },
        );
      }
      return v;
    }
    return {
      ...binding,
      info: () => binding.info(),
      listImplementations: () => [...binding.listImplementations(), ...entries],
      plan: (p, o) => (byName.has(p.implementation) ? planOf(p, o) : binding.plan(p, o)),
      async createSession(p, o) {
        if (!byName.has(p.implementation)) return binding.createSession(p, o);
        const name = p.implementation;
        const validation = await check(p).catch((e: Error & { code?: string }) => {
          if (e.code !== VALIDATION_FAILED) e.message = `Python plugin '${name}': ${e.message}`;
          throw e;
        });
        const sid = nextSid++;
        await worker
          .request(
            { op: 'prepare', sid, name, problem: p, params: paramsOf(p), input: null },
            `preparing ${name}`,
          )
          .catch((e: Error) => {
            throw Object.assign(e, { message: `Python plugin '${name}': ${e.message}` });
          });
        return new PythonSession(worker, sid, planOf(p, o), validation, name, scratch);
      },
      compute: (...args) => binding.compute(...args),
      reference: (p, q, k, v, c) =>
        binding.reference(byName.has(p.implementation) ? definingProblem(p) : p, q, k, v, c),
      measurePeak: (t, d) => binding.measurePeak(t, d),
      setSimdLevel: (l) => binding.setSimdLevel(l),
      CancelToken: binding.CancelToken,
    };
  };
  return {
    records,
    wrap,
    close: () => {
      worker.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
