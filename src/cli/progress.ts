// Progress on stderr: a cli-progress bar with the current point and an ETA, only when stderr is
// a terminal and not --quiet.
import cliProgress from 'cli-progress';
import { formatLength, formatSeconds } from '../config/units.js';
import { nominalLabel } from '../config/ranges.js';
import type { ProgressEvent } from '../suite/types.js';
import { planTotalLine } from './plan-text.js';

export interface ProgressReporter {
  onProgress(event: ProgressEvent): void;
  stop(): void;
}

const NOOP: ProgressReporter = { onProgress: () => {}, stop: () => {} };

/** How long the rest will take: the planner's estimates of the unfinished points, scaled by how far off they were so far. */
class Eta {
  private estimates: number[] = [];
  private finished = new Set<number>();
  private estimatedDone = 0;
  private actualDone = 0;

  plan(points: readonly { action: string; estimatedSeconds: number }[]): void {
    this.estimates = points.map((p) => (p.action === 'run' ? p.estimatedSeconds : 0));
  }

  done(index: number, elapsedSeconds: number, ok: boolean): void {
    this.finished.add(index);
    if (ok && this.estimates[index]) {
      this.estimatedDone += this.estimates[index];
      this.actualDone += elapsedSeconds;
    }
  }

  remainingSeconds(): number {
    const ratio = this.estimatedDone > 0 ? this.actualDone / this.estimatedDone : 1;
    return this.estimates.reduce((a, v, i) => (this.finished.has(i) ? a : a + v), 0) * ratio;
  }
}

/**
 * Without a terminal (CI logs, pipes): the plan's total at the start and one line per finished
 * point, so a long run shows that it is alive and how long it has left.
 */
export function createProgressLines(
  stream: NodeJS.WritableStream = process.stderr,
): ProgressReporter {
  const eta = new Eta();
  return {
    stop: () => {},
    onProgress(e) {
      switch (e.type) {
        case 'calibrate':
          stream.write(
            `dilbench: calibrating ${e.implementations.join(', ')}${e.side ? ` (${e.side})` : ''}...\n`,
          );
          break;
        case 'plan':
          eta.plan(e.points);
          stream.write(`dilbench: plan: ${planTotalLine(e.points)}\n`);
          break;
        case 'point-end': {
          const r = e.row;
          eta.done(e.index, e.elapsedSeconds, r.status === 'ok');
          const what = `${r.implementation} @ ${nominalLabel(r.seqLen) ?? formatLength(r.seqLen)} (batch ${r.batch})`;
          const result =
            r.status === 'ok' && r.stats
              ? `ok, median ${r.stats.medianMs.toPrecision(4)} ms, ${r.samplesMs.length} sample${r.samplesMs.length === 1 ? '' : 's'} in ${formatSeconds(e.elapsedSeconds)}`
              : `${r.status}${r.reason ? `: ${r.reason.split('\n')[0]}` : ''}`;
          const left = eta.remainingSeconds();
          stream.write(
            `dilbench: [${e.index + 1}/${e.total}] ${what}: ${result}${e.index + 1 < e.total && left >= 0.5 ? `; about ${formatSeconds(left)} left` : ''}\n`,
          );
          break;
        }
      }
    },
  };
}

export function createProgress(
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): ProgressReporter {
  if (!enabled) return NOOP;
  let bar: cliProgress.SingleBar | undefined;
  let estimatedDone = 0;
  let actualDone = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    stop,
    onProgress(e) {
      switch (e.type) {
        case 'calibrate':
          stream.write(
            `calibrating ${e.implementations.join(', ')}${e.side ? ` (${e.side})` : ''}...\n`,
          );
          break;
        case 'plan':
          stream.write(`plan: ${planTotalLine(e.points)} (--dry-run shows it per point)\n`);
          bar = new cliProgress.SingleBar(
            {
              stream,
              format: ' {bar} {value}/{total} | {point} | ETA {eta_est}',
              hideCursor: true,
              clearOnComplete: false,
              etaBuffer: 1,
              fps: 5,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.total, 0, { point: 'planning', eta_est: formatSeconds(e.estimatedSeconds) });
          break;
        case 'point-start': {
          // scale the planner's estimate by how far off it has been so far
          const ratio = estimatedDone > 0 ? actualDone / estimatedDone : 1;
          bar?.update(e.index, {
            point: `${e.implementation} @ ${nominalLabel(e.seqLen) ?? formatLength(e.seqLen)} (batch ${e.batch})`,
            eta_est: formatSeconds(e.remainingEstimatedSeconds * ratio),
          });
          break;
        }
        case 'point-end':
          if (e.row.status === 'ok' && e.row.estimatedSeconds) {
            estimatedDone += e.row.estimatedSeconds;
            actualDone += e.elapsedSeconds;
          }
          bar?.update(e.index + 1);
          break;
        case 'done':
          stop();
          break;
      }
    },
  };
}
