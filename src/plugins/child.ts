// The plugin worker process (worker.ts forks it): loads the addon and the plugin libraries, then
// serves sessions over IPC. Samples are timed here by the native session engine, exactly as for
// built-ins; only the request and the reply cross the process boundary.
import type { NativeCancelToken, NativeSession } from '../native/binding.js';
import { loadBinding } from '../native/dilbench.js';

const binding = loadBinding();
const sessions = new Map<number, { session: NativeSession; token: NativeCancelToken }>();
let nextSession = 1;

type Handler = (...args: never[]) => unknown;
const handlers: Record<string, Handler> = {
  load(paths: string[]) {
    return paths.map((p) => binding.loadPlugin!(p));
  },
  async createSession(
    problem: Parameters<typeof binding.createSession>[0],
    options: Parameters<typeof binding.createSession>[1],
  ) {
    const session = await binding.createSession(problem, options);
    const id = nextSession++;
    sessions.set(id, { session, token: new binding.CancelToken() });
    return { id, plan: session.plan };
  },
  async sample(id: number, iterations: number, cold: boolean) {
    const s = sessionOf(id);
    const samples = await s.session.sample(iterations, cold, s.token);
    return { samples, pool: s.session.poolStats() };
  },
  async output(id: number) {
    const s = sessionOf(id);
    return { output: await s.session.output(s.token), pool: s.session.poolStats() };
  },
  inputs(id: number) {
    const s = sessionOf(id);
    return { q: s.session.input('q'), k: s.session.input('k'), v: s.session.input('v') };
  },
  cancel(id: number) {
    sessions.get(id)?.token.cancel();
  },
  dispose(id: number) {
    sessions.get(id)?.session.dispose();
    sessions.delete(id);
  },
  ping() {
    return process.pid;
  },
};

function sessionOf(id: number) {
  const s = sessions.get(id);
  if (!s)
    throw Object.assign(new Error(`no plugin session ${id}`), { code: 'ERR_DILBENCH_INTERNAL' });
  return s;
}

async function answer(m: { id: number; op: string; args: unknown[] }): Promise<void> {
  const h = handlers[m.op];
  try {
    if (!h) throw new Error(`unknown request ${m.op}`);
    const value = await (h as (...a: unknown[]) => unknown)(...m.args);
    if (m.id) process.send!({ id: m.id, ok: true, value });
  } catch (e) {
    const err = e as { message?: string; code?: string; field?: string };
    if (m.id)
      process.send!({
        id: m.id,
        ok: false,
        error: { message: err.message ?? String(e), code: err.code, field: err.field },
      });
  }
}

process.on('message', (m: { id: number; op: string; args: unknown[] }) => void answer(m));
process.on('disconnect', () => process.exit(0));
