// The `compute-api` section of `dilbench bench`: what the one-call API costs over the kernel.
// computeAttention() (the caller's Float32Arrays in, a new one out, every call) against a session
// running the same flash problem, interleaved in one process by the measurement engine. Both are
// timed alike, by the engine's clock around one awaited call from JS (the session: sample(1),
// whose round trip through the addon's worker thread computeAttention pays too), so the ratio of
// the medians is the API's own cost (1.00 = none), min/max its spread; the session's kernel time
// (its own timer, the kernel alone) is shown beside it. Two more samplers pass `out` (one V8 array
// for every call: no new output array to fault in), the second also copyInputs false (no copy).
// The copies come from the addon's pool (aligned, like the session's buffers); a new output and
// `out` are V8's, as are the inputs read in place, usually 16 bytes past a 64-byte boundary: those
// sides pay misaligned loads and stores (3-5% at 1K) that the API's docs warn of.
import { computeAttention } from '../api/compute.js';
import type { NativeBinding } from '../native/binding.js';
import type { Sampler } from '../measure/types.js';
import type { ComputeApiRow } from '../results/types.js';
import { callSampler } from '../measure/call-sampler.js';
import { benchSessionOptions } from './kernels.js';
import { BenchRecord, benchProblem, nativeSide, type SectionOptions } from './record.js';

export type { ComputeApiRow };

export const COMPUTE_API_LENGTHS = [1024, 4096];

const IN_PLACE = 'computeAttention(out, copyInputs false)';

export async function runComputeApiSection(
  binding: NativeBinding,
  opts: SectionOptions & {
    lengths?: number[];
  },
): Promise<ComputeApiRow[]> {
  const record = opts.record ?? new BenchRecord(opts.threads);
  const simdLevel = binding.info().simdLevel;
  const rows: ComputeApiRow[] = [];
  await record.eachPoint(opts.lengths ?? COMPUTE_API_LENGTHS, async (seqLen) => {
    opts.log?.(`computeAttention vs session, flash @ ${seqLen} (interleaved)...`);
    const problem = benchProblem('flash', seqLen);
    const shape = {
      batch: problem.batch,
      heads: problem.heads,
      seqLen,
      headDim: problem.headDim,
      causal: problem.causal,
    };
    const session = await binding.createSession(problem, benchSessionOptions(opts.threads));
    try {
      const [q, k, v] = [session.input('q'), session.input('k'), session.input('v')];
      const out = new Float32Array(q.length);
      const outInPlace = new Float32Array(q.length);
      // timed by the engine's clock around each whole call (callSampler without durationNs)
      const api = (into?: Float32Array, copyInputs?: boolean): Sampler =>
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
              copyInputs,
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
          nativeSide(
            'session call',
            problem,
            session,
            simdLevel,
            callSampler(() => session.sample(1, false), { keepResults: false }),
          ),
          nativeSide('computeAttention', problem, session, simdLevel, api()),
          nativeSide('computeAttention(out)', problem, session, simdLevel, api(out)),
          nativeSide(IN_PLACE, problem, session, simdLevel, api(outInPlace, false)),
        ],
        sampling: { warmup: opts.warmup ?? 2, runs: opts.runs ?? 10 },
      });
      const s = ms.get('session')!;
      const sc = ms.get('session call')!;
      const c = ms.get('computeAttention')!;
      const co = ms.get('computeAttention(out)')!;
      const cp = ms.get(IN_PLACE)!;
      const call = { name: 'session call', m: sc };
      rows.push({
        seqLen,
        sessionMedianMs: s.stats.medianMs,
        sessionCallMedianMs: sc.stats.medianMs,
        computeMedianMs: c.stats.medianMs,
        computeMinMs: Math.min(...c.samplesMs),
        computeMaxMs: Math.max(...c.samplesMs),
        ratio: record.ratio('compute-api', seqLen, call, { name: 'computeAttention', m: c }).ratio,
        ratioToKernel: record.ratio(
          'compute-api',
          seqLen,
          { name: 'session', m: s },
          { name: 'computeAttention', m: c },
        ).ratio,
        computeOutMedianMs: co.stats.medianMs,
        ratioOut: record.ratio('compute-api', seqLen, call, {
          name: 'computeAttention(out)',
          m: co,
        }).ratio,
        computeInPlaceMedianMs: cp.stats.medianMs,
        ratioInPlace: record.ratio('compute-api', seqLen, call, { name: IN_PLACE, m: cp }).ratio,
        samples: c.samplesMs.length,
      });
    } finally {
      session.dispose();
    }
  });
  return rows;
}
