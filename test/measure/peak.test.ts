import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPeak } from '../../src/cli/commands/peak.js';
import type { NativeBinding } from '../../src/native/binding.js';
import { Dilbench } from '../../src/native/dilbench.js';
import { loadPeak } from '../../src/roofline/peak-store.js';

function sink() {
  let out = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } },
    text: () => out,
  };
}

describe('dilbench peak (fake binding)', () => {
  it('prints, stores peak.json and reloads it', async () => {
    let asked: [number, number] | null = null;
    const dilbench = new Dilbench({
      binding: {
        async measurePeak(threads: number, seconds: number) {
          asked = [threads, seconds];
          return { fmaGflops: 450.5, streamGBps: 21.25, threads, simdLevel: 'avx512' };
        },
      } as unknown as NativeBinding,
    });
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-peak-'));
    const s = sink();
    const res = await runPeak(dilbench, { threads: '2', duration: '0.5', outputDir: dir }, s.io);
    expect(asked).toEqual([2, 0.5]);
    expect(s.text()).toMatch(/450\.5 GFLOP\/s/);
    expect(s.text()).toMatch(/21\.3 GB\/s/);
    const stored = JSON.parse(readFileSync(res.file, 'utf8'));
    expect(stored.fmaGflops).toBe(450.5);
    expect((await loadPeak(dir))?.streamGBps).toBe(21.25);
    const j = sink();
    await runPeak(dilbench, { threads: 1, duration: 0.1, outputDir: dir, json: true }, j.io);
    expect(JSON.parse(j.text()).threads).toBe(1);
  });

  it('refuses bad options with a usage exit', async () => {
    await expect(runPeak(new Dilbench(), { threads: '0' })).rejects.toMatchObject({ exitCode: 2 });
    await expect(runPeak(new Dilbench(), { duration: 'x' })).rejects.toMatchObject({ exitCode: 2 });
  });

  it('loadPeak returns null when there is none', async () => {
    expect(await loadPeak(join(tmpdir(), 'no-such-dilbench-dir'))).toBeNull();
  });
});

describe('dilbench peak (native addon)', async () => {
  let binding: NativeBinding | null = null;
  let why = '';
  try {
    const loader = (await import('../../src/native/dilbench.js')) as {
      loadBinding(): NativeBinding;
    };
    binding = loader.loadBinding();
  } catch (e) {
    why = ((e as Error).message ?? String(e)).replace(/\s*\n\s*/g, ' | ').slice(0, 400);
  }
  if (!binding) console.log(`[skip] native peak test: the addon cannot load (${why})`);

  it.skipIf(!binding)('measurePeak returns plausible positive numbers', async () => {
    const peak = await binding!.measurePeak(1, 0.3);
    expect(peak.fmaGflops).toBeGreaterThan(0.5);
    expect(peak.fmaGflops).toBeLessThan(1e5);
    expect(peak.streamGBps).toBeGreaterThan(0.1);
    expect(peak.streamGBps).toBeLessThan(1e4);
    expect(peak.threads).toBe(1);
  });
});
