// The one loop over a run's units (src/suite/in-turn.ts): runSuite's sample stage runs its point
// groups through it, inference and scaling their sides. Not-runnable units are passed over, an
// abort leaves the rest unrun (reported), a unit that throws is reported and the others still run.
import { describe, expect, it } from 'vitest';
import type { SideRecord } from '../../src/results/types.js';
import { INTERRUPTED_BEFORE_SIDE, runEachSide, runInTurn } from '../../src/suite/in-turn.js';

const side = (device: 'cpu' | 'cuda', dtype: 'fp32' | 'bf16', reason?: string): SideRecord =>
  reason === undefined
    ? { device, dtype, status: 'ok' }
    : { device, dtype, status: 'skipped', reason };

describe('runInTurn', () => {
  it('runs the runnable units in order and returns what each returned', async () => {
    const ran: number[] = [];
    const r = await runInTurn([1, 2, 3, 4], {
      runnable: (u) => u !== 3,
      run: async (u, i) => {
        ran.push(i);
        return u * 10;
      },
    });
    expect(ran).toEqual([0, 1, 3]);
    expect(r).toEqual({ results: [10, 20, 40], firstError: undefined, interrupted: false });
  });

  it('after an abort the units left are reported as interrupted, not run', async () => {
    const ac = new AbortController();
    const interruptedAt: number[] = [];
    const r = await runInTurn(['a', 'b', 'c'], {
      signal: ac.signal,
      run: async (u) => {
        if (u === 'a') ac.abort();
        return u;
      },
      onInterrupted: (_u, i) => interruptedAt.push(i),
    });
    expect(r.results).toEqual(['a']);
    expect(r.interrupted).toBe(true);
    expect(interruptedAt).toEqual([1, 2]);
  });

  it("stops on the caller's own condition too", async () => {
    let stop = false;
    const r = await runInTurn([1, 2, 3], {
      stopped: () => stop,
      run: async (u) => {
        stop = u === 2;
        return u;
      },
    });
    expect(r).toMatchObject({ results: [1, 2], interrupted: true });
  });

  it('a unit that throws is reported and the others still run; without onFailed it throws on', async () => {
    const failed: [string, string][] = [];
    const r = await runInTurn(['x', 'boom', 'y', 'bang'], {
      run: async (u) => {
        if (u.startsWith('b')) throw new Error(u);
        return u;
      },
      onFailed: (u, e) => failed.push([u, (e as Error).message]),
    });
    expect(r.results).toEqual(['x', 'y']);
    expect((r.firstError as Error).message).toBe('boom');
    expect(failed).toEqual([
      ['boom', 'boom'],
      ['bang', 'bang'],
    ]);
    const ran: string[] = [];
    await expect(
      runInTurn(['x', 'boom', 'y'], {
        run: async (u) => {
          ran.push(u);
          if (u === 'boom') throw new Error(u);
        },
      }),
    ).rejects.toThrow('boom');
    expect(ran).toEqual(['x', 'boom']);
  });
});

describe('runEachSide', () => {
  it('skips sides that cannot run, records a side that throws as skipped with the reason', async () => {
    const sides = [
      side('cpu', 'fp32'),
      side('cpu', 'bf16', 'the CPU model runs fp32 only'),
      side('cuda', 'fp32'),
      side('cuda', 'bf16'),
    ];
    const told: SideRecord[] = [];
    const ran: string[] = [];
    const r = await runEachSide(
      sides,
      undefined,
      async (s) => {
        ran.push(`${s.device}/${s.dtype}`);
        if (s.device === 'cuda' && s.dtype === 'fp32')
          throw Object.assign(new Error('device lost'), { code: 'ERR_DILBENCH_NATIVE' });
        return s.dtype;
      },
      (s) => told.push(s),
    );
    expect(ran).toEqual(['cpu/fp32', 'cuda/fp32', 'cuda/bf16']);
    expect(r.results).toEqual(['fp32', 'bf16']);
    expect((r.firstError as Error).message).toBe('device lost');
    const failed = {
      device: 'cuda',
      dtype: 'fp32',
      status: 'skipped',
      reason: 'failed at run time: device lost (ERR_DILBENCH_NATIVE)',
    };
    expect(sides[2]).toEqual(failed);
    expect(told).toEqual([failed]);
    expect(sides[1]).toEqual(side('cpu', 'bf16', 'the CPU model runs fp32 only'));
    expect(sides[3]!.status).toBe('ok');
  });

  it('after an abort the sides not yet run become skipped, interrupted before they ran', async () => {
    const ac = new AbortController();
    const sides = [side('cpu', 'fp32'), side('cuda', 'fp32'), side('cuda', 'bf16', 'no device')];
    const r = await runEachSide(
      sides,
      ac.signal,
      async (s) => {
        ac.abort();
        return s.device;
      },
      () => undefined,
    );
    expect(r.results).toEqual(['cpu']);
    expect(sides.map((s) => `${s.device}/${s.dtype} ${s.status}: ${s.reason ?? ''}`)).toEqual([
      'cpu/fp32 ok: ',
      `cuda/fp32 skipped: ${INTERRUPTED_BEFORE_SIDE}`,
      // a side that could not run keeps its own reason
      'cuda/bf16 skipped: no device',
    ]);
  });
});
