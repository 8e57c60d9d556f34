// `dilbench quick-validation`: every implementation's output checked numerically at 1K, 4K and 16K
// (float64 reference where affordable, a validated implementation beyond); exits 1 on any failure.
import type { Command } from 'commander';
import { quickValidation, quickValidationFailure } from '../../suites/quick-validation.js';
import type { Dilbench } from '../../native/dilbench.js';
import { registerSuiteCommand } from './suite-command.js';

export function register(program: Command, dilbench: Dilbench): void {
  registerSuiteCommand(program, dilbench, {
    name: 'quick-validation',
    description:
      'check every implementation against the float64 reference at 1K, 4K, 16K (under a minute on 2 cores); exit 1 on any failure',
    suite: quickValidation,
    fields: ['output', 'toleranceAbs', 'toleranceRel', 'referenceFlopsLimit', 'sequenceLengths'],
    flags: (cmd) =>
      cmd
        .option('--output <file>', 'also write the result JSON to this file')
        .option('--sequence-lengths <lengths...>', 'lengths to validate (default 1K,4K,16K)')
        .option(
          '--tolerance-abs <x>',
          'max abs error allowed against the float64 reference (default 1e-4, the fp32 tolerance of the definitions doc; twice that against another implementation)',
        )
        .option(
          '--tolerance-rel <x>',
          'relative L2 error allowed against the float64 reference (default 1e-5; twice that against another implementation)',
        )
        .option(
          '--reference-flops-limit <n>',
          'float64 reference for cases up to this many flops (default 1e10); beyond, a validated implementation',
        ),
    failure: (file) => quickValidationFailure(file.results),
  });
}
