// `dilbench optimization-impact`: each implementation under baseline, pattern cache only, memory
// pool only and both; speedup, memory reduction, cache hit rate and pool statistics.
import type { Command } from 'commander';
import { optimizationImpact } from '../../suites/optimization-impact.js';
import type { Dilbench } from '../../native/dilbench.js';
import { registerSuiteCommand } from './suite-command.js';

export function register(program: Command, dilbench: Dilbench): void {
  registerSuiteCommand(program, dilbench, {
    name: 'optimization-impact',
    description:
      'each implementation under baseline, pattern cache only, memory pool only and both: speedup, memory reduction, cache hit rate, pool statistics',
    suite: optimizationImpact,
    fields: ['sequenceLengths'],
    flags: (cmd) =>
      cmd.option(
        '--sequence-lengths <lengths...>',
        'lengths, space- or comma-separated (K = 1024) (default 1K,4K)',
      ),
  });
}
