// Ctrl-C and SIGTERM for every long-running command: the first signal aborts the run (the native
// run stops at its next iteration boundary and completed work is written); a second one exits at
// once with 130. Once a run was interrupted the handler stays installed until the process exits,
// so a second signal that arrives while results are being written still exits 130 instead of
// falling through to Node's default (death by signal).
import { EXIT_INTERRUPTED } from './errors.js';

export interface InterruptHandle {
  readonly signal: AbortSignal;
  /** Removes the handlers, unless the run was interrupted (then they stay until exit). */
  release(): void;
}

export function handleInterrupts(message: string | null): InterruptHandle {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    if (message) process.stderr.write(`\ninterrupted: ${message} (Ctrl-C again to quit now)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    release() {
      if (controller.signal.aborted) return;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
