// `dilbench ring --distributed` end to end through the built CLI: the result files parse and
// label the rows measured (projections under `projected`), bad input exits 2 naming the flag
// before anything starts, and doctor says whether distributed runs are available.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, distBuilt, root } from '../cli/helpers.js';
import { distributedAvailability } from '../../src/distributed/launcher.js';
import type { ResultFile } from '../../src/results/types.js';

const avail = distributedAvailability(root);
const skipRun = !distBuilt ? 'dist/ is not built (run npm run build:ts)' : avail.reason;
if (skipRun) console.log(`ring --distributed CLI runs skipped: ${skipRun}`);
if (!distBuilt) console.log('ring --distributed CLI checks skipped: dist/ is not built (run npm run build:ts)');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dilbench-ring-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!!skipRun)('ring --distributed runs', () => {
  it('writes one result file set with measured rows beside the projection (causal: zigzag and plain)', () => {
    const out = path.join(tmp, 'run1');
    const r = cli(['ring', '--distributed', '--ranks', '3', '--total-tokens', '600', '--causal', '--heads', '2', '--kv-heads', '1', '--head-dim', '32', '--runs', '2', '--output-dir', out, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const files = readdirSync(out);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(1);
    expect(files.some((f) => f.endsWith('.csv'))).toBe(true);
    const md = readFileSync(path.join(out, files.find((f) => f.endsWith('.md'))!), 'utf8');
    expect(md).toMatch(/Distributed ring \(measured\)/);
    const file = JSON.parse(readFileSync(path.join(out, files.find((f) => f.endsWith('.json'))!), 'utf8')) as ResultFile;
    expect(file.suite).toBe('ring-distributed');
    expect(file.results.map((x) => x.distributed?.layout)).toEqual(['zigzag', 'plain']);
    for (const row of file.results) {
      expect(row.status).toBe('ok');
      expect(row.params).toMatchObject({ measured: true, distributed: true, ringSize: 3 });
      expect(row.validation).toMatchObject({ against: 'float64-reference', passed: true });
      const m = row.distributed!;
      expect(m.kind).toBe('measured');
      expect(m.wallMs).toHaveLength(2);
      expect(m.perStep).toHaveLength(3);
      expect(m.perRank).toHaveLength(3);
      // ping-pong over the three neighbour pairs, positive bandwidth
      expect(m.pingPong.GBps).toHaveLength(3);
      for (const g of m.pingPong.GBps) expect(g).toBeGreaterThan(0);
      expect(m.overlapEfficiency).not.toBeNull();
      expect(m.overlapEfficiency!).toBeGreaterThanOrEqual(0);
      expect(m.overlapEfficiency!).toBeLessThanOrEqual(1);
      expect(m.loadImbalance).toBeGreaterThanOrEqual(1);
      expect(row.projected?.kind).toBe('projected');
    }
    const zigzag = file.results[0].projected as { projectedWallMs: number; measuredWallMs: number; projectionError: number };
    expect(zigzag.projectedWallMs).toBeGreaterThan(0);
    expect(zigzag.projectionError).toBeCloseTo((zigzag.measuredWallMs - zigzag.projectedWallMs) / zigzag.projectedWallMs, 10);
    expect((file.results[1].projected as { skipped?: string }).skipped).toMatch(/zigzag layout only/);
  });
});

describe.skipIf(!distBuilt)('ring --distributed checks', () => {
  it.each([
    [['--ranks', '0'], /--ranks/],
    [['--ranks', '4', '--total-tokens', '3'], /--total-tokens.*>= --ranks/],
    [['--layouts', 'zigzag'], /--layouts/],
    [['--ring-size', '2'], /--ring-size.*use --ranks/],
    [['--dtype', 'bf16'], /--dtype/],
    [['--check', 'maybe'], /--check/],
    [['--kv-heads', '3'], /--kv-heads/],
  ])('%j exits 2 naming the flag', (args, msg) => {
    const r = cli(['ring', '--distributed', ...args, '--output-dir', path.join(tmp, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(() => readdirSync(path.join(tmp, 'never'))).toThrow();
  });

  it('says why when the rank executable is missing (exit 1), and doctor says so too', () => {
    const env = { DILBENCH_RING_RANK: path.join(tmp, 'no-such-rank') };
    const r = cli(['ring', '--distributed', '--ranks', '2', '--total-tokens', '64', '--output-dir', path.join(tmp, 'never2')], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/distributed runs are unavailable: the MPI rank executable dilbench-ring-rank is not built/);
    const d = cli(['doctor', '--json'], env);
    const rep = JSON.parse(d.stdout) as { distributed: { available: boolean; reason: string } };
    expect(rep.distributed.available).toBe(false);
    expect(rep.distributed.reason).toMatch(/not built/);
  });
});
