// `dilbench extreme`: 16K up to 1M tokens (beyond with --max-length) where memory allows; the
// planner skips the rest with its reason before allocating.
import type { Command } from 'commander';
import { extreme } from '../../suites/extreme.js';
import type { Dilbench } from '../../native/dilbench.js';
import { registerSuiteCommand } from './suite-command.js';

export function register(program: Command, dilbench: Dilbench): void {
  registerSuiteCommand(program, dilbench, {
    name: 'extreme',
    description:
      '16K up to 1M tokens (beyond with --max-length) for the implementations whose memory allows; the rest skipped with the reason before allocating',
    suite: extreme,
    fields: ['minLength', 'maxLength'],
    flags: (cmd) =>
      cmd
        .option(
          '--max-length <n>',
          'longest length, doubling from --min-length (default 1M; K = 1024, M = 1048576)',
        )
        .option('--min-length <n>', 'shortest length (default 16K)'),
  });
}
