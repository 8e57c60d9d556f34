// The `dilbench` command line. Each command lives in src/cli/commands/<name>.ts and exports
// register(program, dilbench): the one Dilbench object of the run, obtained here and handed down.
import { Command } from 'commander';
import { packageVersion } from '../config/paths.js';
import { getDilbench, type Dilbench } from '../native/dilbench.js';
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

export function buildProgram(dilbench: Dilbench): Command {
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
  registerSequenceRanges(program, dilbench);
  registerReport(program);
  registerCompare(program);
  registerPeak(program, dilbench);
  registerDoctor(program, dilbench);
  registerInference(program, dilbench);
  registerScaling(program, dilbench);
  registerFrameworks(program, dilbench);
  registerQuickValidation(program, dilbench);
  registerOptimizationImpact(program, dilbench);
  registerExtreme(program, dilbench);
  registerRing(program, dilbench);
  registerBench(program, dilbench);
  return program;
}

/** Runs the CLI; resolves to the exit code. `dilbench`: the object every command uses (nothing loads until one asks). */
export async function run(
  argv: string[] = process.argv,
  dilbench: Dilbench = getDilbench(),
): Promise<number> {
  // `dilbench ... | head`: a closed pipe ends the output quietly
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const program = buildProgram(dilbench);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    const verbose = argv.includes('--verbose');
    return reportError(e, verbose);
  }
}
