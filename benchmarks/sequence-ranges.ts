// The `sequence-ranges` suite: every requested implementation at every length of a range
// (configs/ranges.yaml), fp32, batch/heads/headDim as configured.
import { parseSequenceRangesOptions, type SequenceRangesOptions } from '../src/config/schema.js';
import type { NativeProblem } from '../src/native/binding.js';
import type { SuiteDefinition, SuitePoint } from '../src/suite/types.js';
import { implParamsConfig, problemParamsFor } from '../src/config/impl-params.js';
import { ringProjectionHook } from '../src/suite/ring-projection.js';

export type { SequenceRangesOptions };

export const sequenceRanges: SuiteDefinition<SequenceRangesOptions> = {
  name: 'sequence-ranges',
  description: 'Latency, memory and throughput of each implementation across a range of sequence lengths',
  parseOptions: (raw) => parseSequenceRangesOptions(raw, { strict: true }),
  points(o, ctx): SuitePoint[] {
    const points: SuitePoint[] = [];
    for (const seqLen of o.lengths) {
      for (const implementation of ctx.implementations) {
        const problem: NativeProblem = {
          implementation,
          device: o.device,
          dtype: 'fp32',
          batch: o.batchSize,
          heads: o.heads,
          kvHeads: o.kvHeads,
          seqLen,
          headDim: o.headDim,
          causal: o.causal,
          seed: o.seed,
          ...problemParamsFor(o, implementation, seqLen),
        };
        points.push({ problem });
      }
    }
    return points;
  },
  config(o) {
    return {
      range: o.range,
      lengths: o.lengths,
      ...(o.customLengths ? { customLengths: o.customLengths } : {}),
      batchSize: o.batchSize,
      heads: o.heads,
      kvHeads: o.kvHeads,
      headDim: o.headDim,
      causal: o.causal,
      ...implParamsConfig(o),
    };
  },
  afterMeasure: ringProjectionHook,
};

export default sequenceRanges;
