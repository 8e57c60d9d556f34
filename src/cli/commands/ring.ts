// `dilbench ring --ring-size ... --total-tokens ...`: ring attention measured where it fits,
// projected (and labelled so) from measured per-step times up to 1e9 tokens.
import type { Command } from 'commander';
import { ringSuite } from '../../../benchmarks/ring.js';
import type { CommonRunOptions, SuiteDefinition } from '../../suite/types.js';
import { registerSuiteCommand } from './suite-command.js';

export function register(program: Command): void {
  registerSuiteCommand(program, {
    name: 'ring',
    description: 'ring attention over P simulated ranks: measured where it fits, larger totals (up to 1e9 tokens) projected from measured per-step times',
    suite: ringSuite as unknown as SuiteDefinition<CommonRunOptions>,
    fields: ['totalTokens', 'ringSize', 'linkGbps'],
    ringFlags: true,
    flags: (cmd) =>
      cmd
        .option('--ring-size <sizes...>', 'ring sizes P (simulated ranks), e.g. 1,2,4,8 (default 1,2,4,8)')
        .option('--total-tokens <counts...>', 'total sequence lengths, e.g. 4K,64K,1M,1e9 (default 4K,16K,64K,1M,16M,1e9); what does not fit is projected')
        .option('--link-gbps <links...>', 'links to project onto: Gbit/s numbers, or presets nvlink (450 GB/s = 3600 Gbit/s), infiniband (NDR 400 Gbit/s = 50 GB/s) (default: both presets)'),
  });
}
