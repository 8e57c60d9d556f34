// PyTorch through a Python subprocess (src/frameworks/python/torch_attention.py), when a python3
// with torch is found; skipped with a note otherwise. The same seeded inputs go through a temp
// .bin file; iterations are timed in Python with time.perf_counter_ns; torch.set_num_threads.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { packageRoot } from '../config/paths.js';
import { attentionScale } from './onnx-graphs.js';
import type {
  FrameworkAdapter,
  FrameworkInputs,
  FrameworkSkip,
  FrameworkSpec,
  PeakMemory,
} from './types.js';
import { nowMs } from '../measure/clock.js';

const TORCH_DTYPE = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' } as const;

/**
 * What the subprocess runs: torch's scaled_dot_product_attention (dense), or dilbench's `dilated` /
 * `dilated-grouped` written in PyTorch (src/frameworks/python/torch_dilated.py, fp32, the spec's
 * segmentLengths and dilationRates).
 */
export type TorchImplementation = 'sdpa' | 'dilated' | 'dilated-grouped';

export function pythonExecutable(env: NodeJS.ProcessEnv = process.env): string {
  return env.DILBENCH_PYTHON || 'python3';
}

export function torchScriptPath(): string {
  return join(packageRoot(), 'src', 'frameworks', 'python', 'torch_attention.py');
}

/** What `python -c "import torch, numpy"` found: torch's version, or why PyTorch is skipped. */
export type TorchProbe = { version: string; reason: null } | { version: null; reason: string };
const probes = new Map<string, TorchProbe>();

export function probeTorch(python = pythonExecutable()): TorchProbe {
  let p = probes.get(python);
  if (!p) {
    p = runProbe(python);
    probes.set(python, p);
  }
  return p;
}

/** null when `python3 -c "import torch"` works, else the reason PyTorch is skipped. */
export function torchUnavailableReason(python = pythonExecutable()): string | null {
  return probeTorch(python).reason;
}

function runProbe(python: string): TorchProbe {
  const skip = (reason: string): TorchProbe => ({ version: null, reason });
  const r = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error)
    return skip(`no Python found (${python}: ${r.error.message}); PyTorch comparison skipped`);
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').pop() ?? '';
    return skip(
      `${python} cannot import torch/numpy (${last || `exit ${r.status}`}); PyTorch comparison skipped (pip install torch numpy to include it)`,
    );
  }
  if (!existsSync(torchScriptPath())) return skip(`PyTorch script missing at ${torchScriptPath()}`);
  return { version: r.stdout.trim(), reason: null };
}

interface Ready {
  ready: true;
  version: string;
  setupMs: number;
  rssBeforeBytes: number;
  /** torch.get_num_threads() after set_num_threads */
  threads?: number;
  /** the SDPA kernel torch picks for these inputs (FLASH_ATTENTION, MATH, ...), null if unknown */
  sdpaBackend?: string | null;
  /** torch.backends.cpu.get_cpu_capability(): the ISA of ATen's CPU kernels (AVX512, AVX2, ...) */
  cpuCapability?: string | null;
}

export class PyTorchAdapter implements FrameworkAdapter {
  readonly name = 'pytorch' as const;
  readonly timing =
    'each iteration timed in the Python subprocess (time.perf_counter_ns around the call)';
  readonly sampler;
  readonly description: string;
  private readonly pending: Array<(line: string) => void> = [];
  private rssPeak: number | undefined;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: Interface,
    private readonly dir: string,
    private readonly ready: Ready,
    readonly setupMs: number,
    spec: FrameworkSpec,
    implementation: TorchImplementation,
  ) {
    const kernel = ready.sdpaBackend ? `, dispatches to ${ready.sdpaBackend}` : '';
    const threads = ready.threads !== undefined ? `, ${ready.threads} threads` : '';
    const isa = ready.cpuCapability ? `, ATen ${ready.cpuCapability}` : '';
    const what =
      implementation === 'sdpa'
        ? 'torch.nn.functional.scaled_dot_product_attention'
        : `dilbench '${implementation}' in PyTorch (torch_dilated.py: strided views, torch's CPU flash kernel with log-sum-exp per part)`;
    this.description = `${what} (CPU, torch.${TORCH_DTYPE[spec.dtype]}${spec.causal ? ', is_causal=True' : ''}${kernel}${isa}${threads}), [B, H, S, D]`;
    this.sampler = { sample: (n: number) => this.sample(n) };
    lines.on('line', (l) => this.pending.shift()?.(l));
  }

  get version(): string {
    return this.ready.version;
  }

  /** the ISA of torch's CPU kernels, null when torch does not say */
  get cpuCapability(): string | null {
    return this.ready.cpuCapability ?? null;
  }

  static async create(
    spec: FrameworkSpec,
    inputs: FrameworkInputs,
    implementation: TorchImplementation = 'sdpa',
  ): Promise<PyTorchAdapter | FrameworkSkip> {
    const reason = torchUnavailableReason();
    if (reason) return { name: 'pytorch', skipped: true, reason };
    if (implementation !== 'sdpa' && !(spec.segmentLengths?.length && spec.dilationRates?.length)) {
      throw new Error(
        `PyTorch '${implementation}' needs spec.segmentLengths and spec.dilationRates (one rate per length)`,
      );
    }
    const t0 = nowMs();
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-torch-'));
    const input = join(dir, 'qkv.bin');
    const all = new Float32Array(inputs.q.length * 3);
    all.set(inputs.q, 0);
    all.set(inputs.k, inputs.q.length);
    all.set(inputs.v, inputs.q.length * 2);
    writeFileSync(input, new Uint8Array(all.buffer));
    const arg = JSON.stringify({
      ...spec,
      scale: attentionScale(spec),
      input,
      torchImplementation: implementation,
    });
    const child = spawn(pythonExecutable(), [torchScriptPath(), arg], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) =>
        reject(
          new Error(`PyTorch subprocess exited (${code}) before it was ready: ${stderr.trim()}`),
        ),
      );
      child.once('error', reject);
    });
    const ready = JSON.parse(first) as Ready;
    return new PyTorchAdapter(child, lines, dir, ready, nowMs() - t0, spec, implementation);
  }

  private request<T>(cmd: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push((line) => {
        try {
          const r = JSON.parse(line) as T & { error?: string };
          if (r.error) reject(new Error(`PyTorch subprocess: ${r.error}`));
          else resolve(r);
        } catch (e) {
          reject(e);
        }
      });
      this.child.stdin.write(`${cmd}\n`);
    });
  }

  private async sample(n: number): Promise<Float64Array> {
    const r = await this.request<{ ns: number[] }>(`sample ${n}`);
    if (this.rssPeak === undefined) {
      this.rssPeak = (await this.request<{ peakRssBytes: number }>('memory')).peakRssBytes;
    }
    return Float64Array.from(r.ns);
  }

  async output(): Promise<Float32Array> {
    const path = join(this.dir, 'out.bin');
    await this.request(`output ${path}`);
    const b = readFileSync(path);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }

  peakMemory(): PeakMemory | null {
    if (this.rssPeak === undefined) return null;
    return {
      bytes: Math.max(0, this.rssPeak - this.ready.rssBeforeBytes),
      kind: 'rss-delta',
      note: 'growth of the Python subprocess peak RSS from after `import torch` to the end of the first call (inputs, output and workspace; a lower bound when the peak was already higher)',
    };
  }

  async dispose(): Promise<void> {
    try {
      this.child.stdin.end('quit\n');
    } catch {
      /* already gone */
    }
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) resolve();
      else {
        const t = setTimeout(() => {
          this.child.kill();
          resolve();
        }, 5000);
        this.child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      }
    });
    this.lines.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
