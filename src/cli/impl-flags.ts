// The implementation-parameter flags every benchmark command shares (issue 3), and how their
// commander values become raw options (validated later by src/config/impl-params.ts, exit 2).
import { Help, type Command } from 'commander';
import { IMPL_PARAM_KEYS } from '../config/impl-params.js';
import { paramSpec } from '../implementations/descriptors.js';

/** flag -> the native parameter spec whose help, bounds and default its help shows */
const SPEC_OF_FLAG: Record<string, string> = {
  '--segment-lengths': 'segmentLengths',
  '--dilation-rates': 'dilationRates',
  '--block-size': 'blockSize',
  '--window': 'window',
  '--stride': 'stride',
  '--density': 'density',
  '--block-pattern': 'blockPattern',
  '--prompt-len': 'promptLen',
  '--new-tokens': 'newTokens',
  '--prefill': 'prefill',
};

export function addImplementationFlags(cmd: Command, opts: { ring?: boolean } = {}): Command {
  cmd
    .option('--segment-lengths <lengths...>', 'dilated: segment lengths')
    .option('--dilation-rates <rates...>', 'dilated: dilation rates')
    .option('--block-size <n>', 'block-sparse: block size')
    .option('--window <n>', 'block-sparse: window')
    .option('--stride <n>', 'block-sparse: stride')
    .option('--density <x>', 'block-sparse: density')
    .option('--block-pattern <name>', 'block-sparse: pattern')
    .option('--prompt-len <n>', 'kv-cache: prompt tokens')
    .option('--new-tokens <n>', 'kv-cache: decode steps')
    .option('--prefill <mode>', 'kv-cache: attend (default) or skip the prompt rows')
    .option('--enable-pattern-cache', 'cache dilated index patterns (default on)')
    .option('--no-pattern-cache', 'rebuild dilated index patterns on every request')
    .option('--enable-memory-pool', 'reuse workspace buffers through the memory pool (default on)')
    .option('--no-memory-pool', 'pass every allocation straight to the allocator');
  if (!opts.ring) {
    cmd
      .option('--ring-size <n>', 'ring / ring-dilated: simulated ranks')
      .option(
        '--link-gbps <links...>',
        'ring projections: link bandwidths in Gbit/s, or presets nvlink (450 GB/s = 3600 Gbit/s) and infiniband (NDR 400 Gbit/s = 50 GB/s) (default: both presets)',
      );
  }
  // The parameter flags' help is the native specs' (native/core/descriptor.cpp: what the kernels
  // check), read only when help is shown so other runs do not load the addon for it; the short
  // texts above stand in when the addon cannot load.
  const previous = cmd.configureHelp();
  cmd.configureHelp({
    ...previous,
    optionDescription(option) {
      const fallback = previous.optionDescription
        ? previous.optionDescription.call(this, option)
        : Help.prototype.optionDescription.call(this, option);
      // the ring command defines its own --ring-size (a list of P), whose help stays its own
      const name =
        option.long === '--ring-size' && !opts.ring
          ? 'ringSize'
          : option.long
            ? SPEC_OF_FLAG[option.long]
            : undefined;
      if (!name) return fallback;
      try {
        const spec = paramSpec(name);
        return `${spec.help} (${spec.allowed}; default ${spec.default})`;
      } catch {
        return fallback;
      }
    },
  });
  return cmd;
}

/** Copies the given implementation flags into raw options (`--no-x` becomes enableX = false). */
export function collectImplementationFlags(
  opts: Record<string, unknown>,
  raw: Record<string, unknown>,
): void {
  for (const f of IMPL_PARAM_KEYS) if (opts[f] !== undefined) raw[f] = opts[f];
  if (opts.patternCache === false) raw.enablePatternCache = false;
  if (opts.memoryPool === false) raw.enableMemoryPool = false;
}
