// The `dilbench` command line. Each command lives in src/cli/commands/<name>.ts and exports
// register(program).
import { Command } from 'commander';
import { packageVersion } from '../config/paths.js';
import { reportError } from './errors.js';
import { register as registerSequenceRanges } from './commands/sequence-ranges.js';
import { register as registerReport } from './commands/report.js';
import { register as registerCompare } from './commands/compare.js';
import { register as registerPeak } from './commands/peak.js';
import { register as registerDoctor } from './commands/doctor.js';
import { register as registerInference } from './commands/inference.js';
import { register as registerScaling } from './commands/scaling.js';
import { register as registerFrameworks } from './commands/frameworks.js';
import { register as registerQuickValidation } from './commands/quick-validation.js';
import { register as registerOptimizationImpact } from './commands/optimization-impact.js';
import { register as registerExtreme } from './commands/extreme.js';
import { register as registerRing } from './commands/ring.js';
import { register as registerBench } from './commands/bench.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('dilbench')
    .description(
      'Benchmarks attention kernels (naive, flash, ...) on a native CPU core: latency, memory, throughput',
    )
    .version(packageVersion(), '-V, --version', 'print the dilbench version')
    .option('--verbose', 'stack traces on errors')
    .showSuggestionAfterError(true)
    .exitOverride();
  registerSequenceRanges(program);
  registerReport(program);
  registerCompare(program);
  registerPeak(program);
  registerDoctor(program);
  registerInference(program);
  registerScaling(program);
  registerFrameworks(program);
  registerQuickValidation(program);
  registerOptimizationImpact(program);
  registerExtreme(program);
  registerRing(program);
  registerBench(program);
  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function run(argv: string[] = process.argv): Promise<number> {
  // `dilbench ... | head`: a closed pipe ends the output quietly
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    const verbose = argv.includes('--verbose');
    return reportError(e, verbose);
  }
}
