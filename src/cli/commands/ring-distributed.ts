// The CLI side of `dilbench ring --distributed` (src/distributed/run.ts does the work): option
// checks before anything starts (exit 2), the addon for the projection and the environment,
// SIGINT/SIGTERM stopping the ranks, the summary and the files written.
import { runDistributedRing, parseDistributedOptions } from '../../distributed/run.js';
import { textTable } from '../../reports/format.js';
import { bindingOrExit, CliExit, EXIT_FAILURE, EXIT_INTERRUPTED } from '../errors.js';
import type { Dilbench } from '../../native/dilbench.js';
import { ConfigError } from '../../config/errors.js';

const fmt = (x: number | null | undefined, d = 2) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d);

export async function runDistributedCommand(
  opts: Record<string, unknown>,
  dilbench: Dilbench,
): Promise<void> {
  const raw: Record<string, unknown> = {};
  const keys = [
    'implementations',
    'segmentLengths',
    'dilationRates',
    'ranks',
    'totalTokens',
    'batchSize',
    'heads',
    'kvHeads',
    'headDim',
    'causal',
    'seed',
    'runs',
    'warmup',
    'layouts',
    'check',
    'launcher',
    'launcherArgs',
    'timeout',
    'projection',
    'outputDir',
    'json',
    'quiet',
    'fromRankOutput',
    'gpuTransport',
    'ringSize',
    'compareDtypes',
    'compareDevices',
    'interleave',
    'cold',
    'linkGbps',
    'device',
    'dtype',
    'threads',
    'targetRse',
    'minSamples',
    'maxSamples',
    'maxTime',
    'maxRunSeconds',
    'memoryBudget',
    'dryRun',
  ];
  for (const k of keys) if (opts[k] !== undefined) raw[k] = opts[k];
  if (raw.projection === true) delete raw.projection; // commander's default of --no-projection
  const o = parseDistributedOptions(raw);
  bindingOrExit(dilbench); // an addon that cannot load exits 1 before MPI is looked at
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result;
  try {
    result = await runDistributedRing(o, {
      dilbench,
      signal: abort.signal,
      progress: (m) => {
        if (!o.quiet) process.stderr.write(`dilbench: ${m}\n`);
      },
    });
  } catch (e) {
    if (interrupted)
      throw new CliExit(EXIT_INTERRUPTED, 'interrupted; the ranks were stopped, nothing written');
    if (e instanceof ConfigError) throw e; // bad input (exit 2)
    throw new CliExit(EXIT_FAILURE, e instanceof Error ? e.message : String(e));
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  const { file, written } = result;
  if (o.json) {
    process.stdout.write(JSON.stringify(file, null, 2) + '\n');
  } else {
    const rows = file.results.map((r) => {
      if (!r.distributed)
        return [
          String(r.seqLen),
          '-',
          String(o.ranks),
          r.status,
          '-',
          '-',
          '-',
          '-',
          '-',
          '-',
          '-',
          '-',
        ];
      const m = r.distributed;
      const p = r.projected as { projectedWallMs?: number; projectionError?: number } | undefined;
      return [
        String(r.seqLen),
        m.layout,
        String(m.ranks),
        r.status,
        fmt(m.medianWallMs),
        fmt(p?.projectedWallMs ?? null),
        p?.projectionError === undefined ? '-' : `${(p.projectionError * 100).toFixed(0)}%`,
        fmt(m.pingPong.medianGBps),
        fmt(m.achievedLinkGBps),
        fmt(m.overlapEfficiency),
        fmt(m.loadImbalance),
        r.validation
          ? `${r.validation.against} ${r.validation.maxAbsError.toExponential(1)}`
          : 'none',
      ];
    });
    process.stdout.write(
      textTable(
        [
          'tokens',
          'layout',
          'P',
          'status',
          'wall ms (measured)',
          'wall ms (projected)',
          'proj. error',
          'ping-pong GB/s',
          'achieved GB/s',
          'overlap',
          'imbalance',
          'check',
        ],
        rows,
        [true, false, true, false, true, true, true, true, true, true, true, false],
      ) + '\n',
    );
    process.stdout.write(
      `\nwrote ${[written.json, written.csv, written.markdown].join('\n      ')}\n`,
    );
  }
  if (result.error)
    throw new CliExit(
      EXIT_FAILURE,
      `${result.error.message}\n(the rows measured before it are in ${written.json})`,
    );
  const failed = file.results.filter((r) => r.status === 'failed');
  if (failed.length)
    throw new CliExit(
      EXIT_FAILURE,
      `${failed.length} distributed row(s) failed validation: ${failed.map((r) => r.reason).join('; ')}`,
    );
}
