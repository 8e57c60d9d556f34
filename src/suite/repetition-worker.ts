// One --repetitions worker: a fresh Node process that runs the plan once (no files, plots or
// history) and sends its result file back to the parent over IPC.
import { getDilbench } from '../native/dilbench.js';
import { getSuite } from '../api/suites.js';
import { systemProbe } from '../measure/interference.js';
import { runSuite } from './runner.js';
import type { RepetitionRequest, WorkerMessage } from './repetitions.js';

const controller = new AbortController();

function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
}

process.on('message', (m: { type: 'run'; request: RepetitionRequest } | { type: 'abort' }) => {
  if (m.type === 'abort') {
    controller.abort();
    return;
  }
  void (async () => {
    try {
      const suite = getSuite(m.request.suite);
      const parsed = suite.parseOptions({ ...m.request.options, repetitions: 1 });
      const peak = m.request.peak;
      const file = await runSuite(suite, parsed, {
        binding: getDilbench().binding,
        signal: controller.signal,
        interference: systemProbe,
        onProgress: (event) => {
          if (event.type !== 'done') void send({ type: 'progress', event });
        },
        ...(peak ? { loadPeak: async () => peak } : {}),
      });
      await send({ type: 'result', file });
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      await send({
        type: 'error',
        message: e instanceof Error ? e.message : String(e),
        ...(typeof code === 'string' ? { code } : {}),
      });
    }
    process.disconnect();
  })();
});
// Ctrl-C reaches the whole process group: the parent forwards it as an abort message instead
process.on('SIGINT', () => undefined);
