// `dilbench sequence-ranges`: every implementation across a range of sequence lengths, through the
// shared suite command (flags, validation before the addon loads, progress, signals, files).
import type { Command } from 'commander';
import { sequenceRanges } from '../../suites/sequence-ranges.js';
import { DEFAULTS } from '../../config/schema.js';
import { loadRanges, rangeNames } from '../../config/ranges.js';
import type { Dilbench } from '../../native/dilbench.js';
import { registerSuiteCommand } from './suite-command.js';

function rangeHelp(): string {
  try {
    const table = loadRanges();
    return Object.values(table)
      .map((r) => `${r.name} = ${r.labels.join(' ')}`)
      .join('; ');
  } catch {
    return '';
  }
}

export function register(program: Command, dilbench: Dilbench): void {
  registerSuiteCommand(program, dilbench, {
    name: 'sequence-ranges',
    description:
      'benchmark each implementation across a range of sequence lengths; writes JSON, CSV and Markdown',
    suite: sequenceRanges,
    fields: ['range', 'customLengths'],
    ringFlags: false,
    defaults: DEFAULTS,
    flags: (cmd) =>
      cmd
        .option(
          '--range <name>',
          `length range, one of ${rangeNames().join('|')} (default ${DEFAULTS.range}): ${rangeHelp()}; all = their union; custom = --custom-lengths`,
        )
        .option(
          '--custom-lengths <lengths...>',
          'lengths for --range custom, space- or comma-separated (K = 1024), e.g. 128,256,4K',
        ),
  });
}
