// `dilbench ring --ring-size ... --total-tokens ...`: ring attention measured where it fits,
// projected (and labelled so) from measured per-step times up to 1e9 tokens.
// `dilbench ring --distributed --ranks N [--device cuda]`: a real ring over MPI ranks, on CPUs or
// one GPU per rank (src/distributed).
import type { Command } from 'commander';
import { ringSuite } from '../../suites/ring.js';
import type { Dilbench } from '../../native/dilbench.js';
import { registerSuiteCommand } from './suite-command.js';
import { runDistributedCommand } from './ring-distributed.js';

export function register(program: Command, dilbench: Dilbench): void {
  registerSuiteCommand(program, dilbench, {
    name: 'ring',
    description:
      'ring attention over P simulated ranks: measured where it fits, larger totals (up to 1e9 tokens) projected from measured per-step times; with --distributed, a real ring over MPI ranks',
    suite: ringSuite,
    fields: ['totalTokens', 'ringSize', 'linkGbps'],
    ringFlags: true,
    takeOver: async (opts) => {
      if (!opts.distributed) return false;
      await runDistributedCommand(opts, dilbench);
      return true;
    },
    flags: (cmd) =>
      cmd
        .option(
          '--ring-size <sizes...>',
          'ring sizes P (simulated ranks), e.g. 1,2,4,8 (default 1,2,4,8)',
        )
        .option(
          '--total-tokens <counts...>',
          'total sequence lengths, e.g. 4K,64K,1M,1e9 (default 4K,16K,64K,1M,16M,1e9); what does not fit is projected',
        )
        .option(
          '--link-gbps <links...>',
          'links to project onto: Gbit/s numbers, or presets nvlink (450 GB/s = 3600 Gbit/s), infiniband (NDR 400 Gbit/s = 50 GB/s) (default: both presets)',
        )
        .option(
          '--distributed',
          'a real ring: one MPI rank per chunk, launched with mpirun (needs MPI and the rank executable; `dilbench doctor` says); --device cuda: one GPU per rank (the GPU rank executable, NCCL or CUDA-aware MPI; at least --ranks CUDA devices), auto: cuda where that can run, else cpu; --implementations ring (default) or ring-dilated (with --segment-lengths / --dilation-rates)',
        )
        .option('--ranks <n>', '--distributed: MPI ranks P (default 2)')
        .option(
          '--launcher <cmd>',
          '--distributed: the MPI launcher (default: mpirun, else mpiexec, on PATH)',
        )
        .option(
          '--launcher-args <args>',
          '--distributed: extra launcher arguments, passed through (one string, split on spaces)',
        )
        .option(
          '--layouts <names>',
          '--distributed: plain, zigzag (zigzag with --causal only; default with --causal: both, for the load-imbalance comparison)',
        )
        .option(
          '--check <mode>',
          '--distributed: compare the gathered output with auto|reference|flash|dilated|none (flash for ring, dilated for ring-dilated; auto: the float64 reference up to 2e9 flops, else that kernel) (default auto)',
        )
        .option(
          '--gpu-transport <name>',
          '--distributed --device cuda|auto: nccl (NCCL send/recv) or cuda-aware-mpi (MPI on device buffers) (default: nccl where its rank executable is built)',
        )
        .option(
          '--timeout <s>',
          '--distributed: seconds one launch may take before every rank is killed (default 600)',
        )
        .option(
          '--from-rank-output <file>',
          '--distributed: write the result files from a rank 0 JSON of a launch you ran (mpirun/srun on dilbench-ring-rank, several machines) instead of launching',
        )
        .option(
          '--no-projection',
          '--distributed: skip the single-process projection beside the measurement',
        ),
  });
}
