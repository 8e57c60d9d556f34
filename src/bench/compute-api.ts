// The `compute-api` section of `dilbench bench`: what the one-call API costs over the kernel.
// computeAttention() (the caller's Float32Arrays in, a new one out, every call) against a session's
// own timed iterations of the same flash problem, interleaved in one process by the measurement
// engine; the ratio of the medians is the API's overhead (1.00 = none), min/max its spread. A
// third sampler passes `out` (one array for every call): no new output array to fault in.
import { computeAttention } from '../api/compute.js';
import type { NativeBinding, NativeProblem } from '../native/binding.js';
import type { Sampler } from '../measure/types.js';
import type { ComputeApiRow } from '../results/types.js';
import { callSampler } from '../measure/call-sampler.js';
import { benchSessionOptions } from './kernels.js';
import { BenchRecord, nativeSide, type SectionOptions } from './record.js';

export type { ComputeApiRow };

export const COMPUTE_API_LENGTHS = [1024, 4096];

export async function runComputeApiSection(
  binding: NativeBinding,
  opts: SectionOptions & {
    lengths?: number[];
  },
): Promise<ComputeApiRow[]> {
  const record = opts.record ?? new BenchRecord(opts.threads);
  const simdLevel = binding.info().simdLevel;
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
    const session = await binding.createSession(problem, benchSessionOptions(opts.threads));
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
      const ms = await record.sample({
        section: 'compute-api',
        seqLen,
        sides: [
          nativeSide('session', problem, session, simdLevel),
          nativeSide('computeAttention', problem, session, simdLevel, api()),
          nativeSide('computeAttention(out)', problem, session, simdLevel, api(out)),
        ],
        sampling: { warmup: opts.warmup ?? 2, runs: opts.runs ?? 10 },
      });
      const s = ms.get('session')!;
      const c = ms.get('computeAttention')!;
      const co = ms.get('computeAttention(out)')!;
      const sessionSide = { name: 'session', m: s };
      rows.push({
        seqLen,
        sessionMedianMs: s.stats.medianMs,
        computeMedianMs: c.stats.medianMs,
        computeMinMs: Math.min(...c.samplesMs),
        computeMaxMs: Math.max(...c.samplesMs),
        ratio: record.ratio('compute-api', seqLen, sessionSide, { name: 'computeAttention', m: c })
          .ratio,
        computeOutMedianMs: co.stats.medianMs,
        ratioOut: record.ratio('compute-api', seqLen, sessionSide, {
          name: 'computeAttention(out)',
          m: co,
        }).ratio,
        samples: c.samplesMs.length,
      });
    } finally {
      session.dispose();
    }
  }
  return rows;
}
