// --require-quiet, before runSuite plans: waits for the machine to become quiet, or refuses.
import {
  interferenceBetween,
  type Interference,
  type InterferenceProbe,
} from '../../measure/interference.js';
import { CancelledError } from '../sampling.js';

/** How long one --require-quiet probe watches the machine, seconds. */
export const QUIET_PROBE_SECONDS = 1;

/** Thrown when --require-quiet gave up waiting; the CLI exits with EXIT_MACHINE_BUSY. */
export class MachineBusyError extends Error {
  readonly code = 'ERR_DILBENCH_MACHINE_BUSY';
  constructor(
    message: string,
    readonly interference: Interference,
  ) {
    super(message);
    this.name = 'MachineBusyError';
  }
}

/**
 * --require-quiet: watches the machine in windows of QUIET_PROBE_SECONDS (this process idle)
 * until one is quiet by the point-flagging rule, for at most `maxWaitSeconds`; then refuses.
 */
export async function waitForQuiet(
  probe: InterferenceProbe,
  maxWaitSeconds: number,
  sleep: (ms: number) => Promise<void>,
  emit: (e: { type: 'note'; message: string }) => void,
  signal?: AbortSignal,
): Promise<void> {
  let waited = 0;
  let said = false;
  for (;;) {
    if (signal?.aborted) throw new CancelledError();
    const a = probe.snapshot();
    await sleep(QUIET_PROBE_SECONDS * 1000);
    waited += QUIET_PROBE_SECONDS;
    const i = interferenceBetween(a, probe.snapshot(), probe.extras());
    if (!i.flagged) return;
    if (waited >= Math.max(maxWaitSeconds, QUIET_PROBE_SECONDS)) {
      throw new MachineBusyError(
        `--require-quiet: the machine is busy (${i.reason}) and did not become quiet within ${maxWaitSeconds} s; not started`,
        i,
      );
    }
    if (!said) {
      emit({
        type: 'note',
        message: `--require-quiet: machine busy (${i.reason}); waiting up to ${maxWaitSeconds} s for it to become quiet`,
      });
      said = true;
    }
  }
}
