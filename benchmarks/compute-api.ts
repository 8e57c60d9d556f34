// The `compute-api` section of `npm run bench`: what the one-call API costs over the kernel.
// computeAttention() (the caller's Float32Arrays in, a new one out, every call) against a session's
// own timed iterations of the same flash problem, interleaved in one process by the measurement
// engine; the ratio of the medians is the API's overhead (1.00 = none), min/max its spread. A
// third sampler passes `out` (one array for every call): no new output array to fault in.
import { computeAttention } from '../src/api/compute.js';
import { measureInterleaved } from '../src/measure/scheduler.js';
import type { NativeBinding, NativeProblem } from '../src/native/binding.js';
import type { Sampler } from '../src/measure/types.js';
import { textTable } from '../src/reports/format.js';
import { callSampler } from '../src/measure/call-sampler.js';

export interface ComputeApiRow {
  seqLen: number;
  /** the session's kernel time (its own timer), median ms */
  sessionMedianMs: number;
  /** wall time of one awaited computeAttention() call, median ms */
  computeMedianMs: number;
  computeMinMs: number;
  computeMaxMs: number;
  /** computeMedianMs / sessionMedianMs */
  ratio: number;
  /** the same calls writing into one caller-provided `out`, median ms, and its ratio to the session */
  computeOutMedianMs: number;
  ratioOut: number;
  samples: number;
}

export const COMPUTE_API_LENGTHS = [1024, 4096];

export async function runComputeApiSection(
  binding: NativeBinding,
  opts: {
    threads: number;
    lengths?: number[];
    runs?: number;
    warmup?: number;
    log?: (s: string) => void;
  },
): Promise<ComputeApiRow[]> {
  const rows: ComputeApiRow[] = [];
  for (const seqLen of opts.lengths ?? COMPUTE_API_LENGTHS) {
    opts.log?.(`computeAttention vs session, flash @ ${seqLen} (interleaved)...`);
    const shape = { batch: 1, heads: 8, seqLen, headDim: 64, causal: false };
    const problem: NativeProblem = {
      implementation: 'flash',
      device: 'cpu',
      dtype: 'fp32',
      kvHeads: 8,
      seed: 42,
      ...shape,
    };
    const session = await binding.createSession(problem, {
      threads: opts.threads,
      useMemoryPool: true,
      usePatternCache: true,
      memoryLimitBytes: 0,
    });
    try {
      const [q, k, v] = [session.input('q'), session.input('k'), session.input('v')];
      const out = new Float32Array(q.length);
      // timed by the engine's clock around each whole call (callSampler without durationNs)
      const api = (into?: Float32Array): Sampler =>
        callSampler(
          () =>
            computeAttention({
              implementation: 'flash',
              q,
              k,
              v,
              ...shape,
              threads: opts.threads,
              binding,
              out: into,
            }),
          {
            keepResults: false,
          },
        );
      const ms = await measureInterleaved(
        new Map<string, Sampler>([
          ['session', { sample: (n: number, cold: boolean) => session.sample(n, cold) }],
          ['computeAttention', api()],
          ['computeAttention(out)', api(out)],
        ]),
        { warmup: opts.warmup ?? 2, runs: opts.runs ?? 10 },
      );
      const s = ms.get('session');
      const c = ms.get('computeAttention');
      const co = ms.get('computeAttention(out)');
      if (!s || !c || !co) throw new Error('interleaved measurement lost a sampler');
      rows.push({
        seqLen,
        sessionMedianMs: s.stats.medianMs,
        computeMedianMs: c.stats.medianMs,
        computeMinMs: Math.min(...c.samplesMs),
        computeMaxMs: Math.max(...c.samplesMs),
        ratio: c.stats.medianMs / s.stats.medianMs,
        computeOutMedianMs: co.stats.medianMs,
        ratioOut: co.stats.medianMs / s.stats.medianMs,
        samples: c.samplesMs.length,
      });
    } finally {
      session.dispose();
    }
  }
  return rows;
}

export function computeApiTable(rows: ComputeApiRow[], threads: number): string {
  return [
    `computeAttention vs session (flash, batch 1, 8 heads, headDim 64, fp32, ${threads} threads, interleaved)`,
    textTable(
      [
        'length',
        'session ms',
        'computeAttention ms',
        'min ms',
        'max ms',
        'ratio',
        'with out ms',
        'ratio',
      ],
      rows.map((x) => [
        String(x.seqLen),
        x.sessionMedianMs.toFixed(2),
        x.computeMedianMs.toFixed(2),
        x.computeMinMs.toFixed(2),
        x.computeMaxMs.toFixed(2),
        `${x.ratio.toFixed(3)}x`,
        x.computeOutMedianMs.toFixed(2),
        `${x.ratioOut.toFixed(3)}x`,
      ]),
      [true, true, true, true, true, true, true, true],
    ),
  ].join('\n');
}
