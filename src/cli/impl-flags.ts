// The implementation-parameter flags every benchmark command shares (issue 3), and how their
// commander values become raw options (validated later by src/config/impl-params.ts, exit 2).
import type { Command } from 'commander';

export const IMPL_FLAG_FIELDS = [
  'segmentLengths', 'dilationRates', 'ringSize', 'linkGbps', 'blockSize', 'window', 'stride', 'density',
  'blockPattern', 'promptLen', 'newTokens', 'enablePatternCache', 'enableMemoryPool',
] as const;

export function addImplementationFlags(cmd: Command, opts: { ring?: boolean } = {}): Command {
  cmd
    .option('--segment-lengths <lengths...>', 'dilated: segment lengths (K = 1024), with --dilation-rates (default: by length, as the definitions say)')
    .option('--dilation-rates <rates...>', 'dilated: one dilation rate per segment length')
    .option('--block-size <n>', 'block-sparse: block size in tokens')
    .option('--window <n>', 'block-sparse local pattern: window in blocks')
    .option('--stride <n>', 'block-sparse strided pattern: stride in blocks')
    .option('--density <x>', 'block-sparse random pattern: fraction of blocks in (0, 1]')
    .option('--block-pattern <name>', 'block-sparse: local|strided|dilated|random')
    .option('--prompt-len <n>', 'kv-cache: prompt tokens (promptLen + newTokens = seqLen)')
    .option('--new-tokens <n>', 'kv-cache: decode steps')
    .option('--enable-pattern-cache', 'cache dilated index patterns (default on)')
    .option('--no-pattern-cache', 'rebuild dilated index patterns on every request')
    .option('--enable-memory-pool', 'reuse workspace buffers through the memory pool (default on)')
    .option('--no-memory-pool', 'pass every allocation straight to the allocator');
  if (!opts.ring) {
    cmd
      .option('--ring-size <n>', 'ring / ring-dilated: simulated ranks P')
      .option('--link-gbps <links...>', 'ring projections: link bandwidths in Gbit/s, or presets nvlink (450 GB/s = 3600 Gbit/s) and infiniband (NDR 400 Gbit/s = 50 GB/s) (default: both presets)');
  }
  return cmd;
}

/** Copies the given implementation flags into raw options (`--no-x` becomes enableX = false). */
export function collectImplementationFlags(opts: Record<string, unknown>, raw: Record<string, unknown>): void {
  for (const f of IMPL_FLAG_FIELDS) if (opts[f] !== undefined) raw[f] = opts[f];
  if (opts.patternCache === false) raw.enablePatternCache = false;
  if (opts.memoryPool === false) raw.enableMemoryPool = false;
}
