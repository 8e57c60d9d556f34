// Progress on stderr: a cli-progress bar with the current point and an ETA, only when stderr is
// a terminal and not --quiet.
import cliProgress from 'cli-progress';
import { formatLength, formatSeconds } from '../config/units.js';
import { nominalLabel } from '../config/ranges.js';
import type { ProgressEvent } from '../suite/types.js';

export interface ProgressReporter {
  onProgress(event: ProgressEvent): void;
  stop(): void;
}

const NOOP: ProgressReporter = { onProgress: () => {}, stop: () => {} };

export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
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
          stream.write(`calibrating ${e.implementations.join(', ')}${e.side ? ` (${e.side})` : ''}...\n`);
          break;
        case 'plan':
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
