// The `sequence-ranges` suite: every requested implementation at every length of a range
// (configs/ranges.yaml), fp32, batch/heads/headDim as configured.
import { parseSequenceRangesOptions, type SequenceRangesOptions } from '../config/schema.js';
import { gridPoints } from '../suite/problem.js';
import type { SuiteDefinition, SuitePoint } from '../suite/types.js';
import { implParamsConfig } from '../config/impl-params.js';
import { ringProjectionHook } from '../suite/ring-projection.js';

export type { SequenceRangesOptions };

export const sequenceRanges: SuiteDefinition<SequenceRangesOptions> = {
  name: 'sequence-ranges',
  description:
    'Latency, memory and throughput of each implementation across a range of sequence lengths',
  parseOptions: (raw) => parseSequenceRangesOptions(raw, { strict: true }),
  points(o, ctx): SuitePoint[] {
    return gridPoints(o, ctx);
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
