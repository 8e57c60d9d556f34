// `dilbench ring --distributed` end to end through the built CLI: the result files parse and
// label the rows measured (projections under `projected`), bad input exits 2 naming the flag
// before anything starts, and doctor says whether distributed runs are available.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, distBuilt, root } from '../cli/helpers.js';
import { distributedAvailability } from '../../src/distributed/launcher.js';
import type { ResultFile } from '../../src/results/types.js';

const avail = distributedAvailability(root);
const skipRun = !distBuilt ? 'dist/ is not built (run npm run build:ts)' : avail.reason;
if (skipRun) console.log(`ring --distributed CLI runs skipped: ${skipRun}`);
if (!distBuilt)
  console.log('ring --distributed CLI checks skipped: dist/ is not built (run npm run build:ts)');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dilbench-ring-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!!skipRun)('ring --distributed runs', () => {
  it('writes one result file set with measured rows beside the projection (causal: zigzag and plain)', () => {
    const out = path.join(tmp, 'run1');
    const r = cli([
      'ring',
      '--distributed',
      '--ranks',
      '3',
      '--total-tokens',
      '600',
      '--causal',
      '--heads',
      '2',
      '--kv-heads',
      '1',
      '--head-dim',
      '32',
      '--runs',
      '2',
      '--output-dir',
      out,
      '--quiet',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const files = readdirSync(out);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(1);
    expect(files.some((f) => f.endsWith('.csv'))).toBe(true);
    const md = readFileSync(
      path.join(
        out,
        files.find((f) => f.endsWith('.md'))!,
      ),
      'utf8',
    );
    expect(md).toMatch(/Distributed ring \(measured\)/);
    const file = JSON.parse(
      readFileSync(
        path.join(
          out,
          files.find((f) => f.endsWith('.json'))!,
        ),
        'utf8',
      ),
    ) as ResultFile;
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
    const zigzag = file.results[0]!.projected as {
      projectedWallMs: number;
      measuredWallMs: number;
      projectionError: number;
    };
    expect(zigzag.projectedWallMs).toBeGreaterThan(0);
    expect(zigzag.projectionError).toBeCloseTo(
      (zigzag.measuredWallMs - zigzag.projectedWallMs) / zigzag.projectedWallMs,
      10,
    );
    expect((file.results[1]!.projected as { skipped?: string }).skipped).toMatch(
      /zigzag layout only/,
    );
  });
});

describe.skipIf(!!skipRun)('ring --distributed --device auto without GPU ranks', () => {
  it('runs on CPU ranks and records which device and why', () => {
    const out = path.join(tmp, 'auto');
    const r = cli(
      [
        'ring',
        '--distributed',
        '--device',
        'auto',
        '--ranks',
        '2',
        '--total-tokens',
        '128',
        '--heads',
        '1',
        '--head-dim',
        '16',
        '--runs',
        '1',
        '--warmup',
        '0',
        '--no-projection',
        '--output-dir',
        out,
        '--json',
      ],
      { DILBENCH_BACKEND: 'cpu' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      // either build: a CPU addon (CI) or one with the CUDA backend but no usable device (npm ci where nvcc is)
      /--device auto: cpu \(auto: CPU ranks \(GPU ranks cannot run: .*(no CUDA backend|no device is usable)/,
    );
    const file = JSON.parse(r.stdout) as ResultFile;
    expect(file.config).toMatchObject({
      device: 'cpu',
      deviceSelection: { requested: 'auto', device: 'cpu' },
    });
    expect(file.results.map((x) => [x.device, x.params?.transportKind, x.status])).toEqual([
      ['cpu', 'mpi', 'ok'],
    ]);
  });
});

describe.skipIf(!!skipRun)('ring --distributed --implementations ring-dilated runs', () => {
  it('writes one measured ring-dilated row (plain chunks) checked against the reference, beside the simulated projection', () => {
    const out = path.join(tmp, 'dilated');
    const r = cli([
      'ring',
      '--distributed',
      '--implementations',
      'ring-dilated',
      '--ranks',
      '3',
      '--total-tokens',
      '400',
      '--causal',
      '--heads',
      '2',
      '--kv-heads',
      '1',
      '--head-dim',
      '32',
      '--segment-lengths',
      '64,256',
      '--dilation-rates',
      '1,2',
      '--runs',
      '2',
      '--output-dir',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    expect(file.config).toMatchObject({
      implementation: 'ring-dilated',
      layouts: ['plain'],
      segmentLengths: [64, 256],
      dilationRates: [1, 2],
    });
    expect(file.results).toHaveLength(1);
    const row = file.results[0]!;
    expect(row).toMatchObject({
      implementation: 'ring-dilated',
      seqLen: 400,
      status: 'ok',
      validation: { against: 'float64-reference', passed: true },
    });
    expect(row.params).toMatchObject({
      measured: true,
      distributed: true,
      layout: 'plain',
      ringSize: 3,
    });
    expect(row.distributed!.perStep).toHaveLength(3);
    expect((row.projected as { projectedWallMs: number }).projectedWallMs).toBeGreaterThan(0);
    expect(readdirSync(out).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    const md = readFileSync(
      path.join(
        out,
        readdirSync(out).find((f) => f.endsWith('.md'))!,
      ),
      'utf8',
    );
    expect(md).toMatch(/\| 400 \| ring-dilated \| plain \| 3 \|/);
  });
});

describe.skipIf(!!skipRun)('ring --distributed --from-rank-output (a launch the user ran)', () => {
  it('turns rank 0 JSON of a hand-run mpirun into the result file set', () => {
    const rawFile = path.join(tmp, 'rank0.json');
    const isRoot = process.getuid?.() === 0;
    const mpi = spawnSync(
      avail.launcher!.path,
      [
        '-np',
        '2',
        ...(avail.launcher!.flavour === 'openmpi'
          ? ['--oversubscribe', ...(isRoot ? ['--allow-run-as-root'] : [])]
          : []),
        avail.rankExecutable!,
        '--seq-len',
        '300',
        '--heads',
        '2',
        '--head-dim',
        '32',
        '--causal',
        '--layouts',
        'zigzag',
        '--iterations',
        '2',
        '--output',
        rawFile,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(mpi.status, mpi.stderr).toBe(0);
    const out = path.join(tmp, 'imported');
    const r = cli([
      'ring',
      '--distributed',
      '--from-rank-output',
      rawFile,
      '--output-dir',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    expect(file.config).toMatchObject({
      ranks: 2,
      causal: true,
      totalTokens: [300],
      fromRankOutput: rawFile,
    });
    expect(file.results).toHaveLength(1);
    expect(file.results[0]).toMatchObject({
      seqLen: 300,
      status: 'ok',
      validation: { against: 'float64-reference', passed: true },
    });
    expect(file.results[0]!.distributed!.wallMs).toHaveLength(2);
    expect(
      (file.results[0]!.projected as { projectedWallMs: number }).projectedWallMs,
    ).toBeGreaterThan(0);
    expect(readdirSync(out).filter((f) => f.endsWith('.json'))).toHaveLength(1);
  });

  it("the CPU rank refuses the GPU ranks' --gpu-transport (exit 2 from the rank, naming the flag)", () => {
    const isRoot = process.getuid?.() === 0;
    const mpi = spawnSync(
      avail.launcher!.path,
      [
        '-np',
        '1',
        ...(avail.launcher!.flavour === 'openmpi' ? (isRoot ? ['--allow-run-as-root'] : []) : []),
        avail.rankExecutable!,
        '--seq-len',
        '64',
        '--gpu-transport',
        'cuda-aware-mpi',
        '--output',
        path.join(tmp, 'never.json'),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(mpi.status).toBe(2);
    expect(mpi.stderr).toMatch(/--gpu-transport: GPU ranks only/);
  });

  it('a file that is not rank 0 JSON exits 2 naming the flag', () => {
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, '{"format": "something else"}');
    const r = cli([
      'ring',
      '--distributed',
      '--from-rank-output',
      bad,
      '--output-dir',
      path.join(tmp, 'never3'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--from-rank-output.*dilbench-ring-rank\/1/);
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
    [['--threads', '2'], /--threads.*one thread/],
    [['--max-time', '5'], /--max-time.*--timeout/],
    [['--implementations', 'flash'], /--implementations.*ring, ring-dilated/],
    [['--implementations', 'ring,ring-dilated'], /--implementations.*one per run/],
    [
      ['--segment-lengths', '64', '--dilation-rates', '1'],
      /--segment-lengths.*only with --implementations ring-dilated/,
    ],
    [
      ['--implementations', 'ring-dilated', '--segment-lengths', '64,128', '--dilation-rates', '1'],
      /--dilation-rates/,
    ],
    [
      ['--implementations', 'ring-dilated', '--segment-lengths', '64', '--dilation-rates', '128'],
      /--dilation-rates.*at most its segment length/,
    ],
    [
      ['--implementations', 'ring-dilated', '--causal', '--layouts', 'zigzag'],
      /--layouts.*ring-dilated keeps contiguous chunks/,
    ],
    [['--implementations', 'ring-dilated', '--check', 'flash'], /--check.*dilated/],
    [['--device', 'tpu'], /--device.*cpu .*cuda .*auto/],
    [['--gpu-transport', 'nccl'], /--gpu-transport.*only with --device cuda or auto/],
    [['--device', 'cuda', '--gpu-transport', 'gloo'], /--gpu-transport.*nccl or cuda-aware-mpi/],
    [
      ['--device', 'cuda', '--implementations', 'ring-dilated'],
      /--implementations.*ring with --device cuda/,
    ],
  ])('%j exits 2 naming the flag', (args, msg) => {
    const r = cli(['ring', '--distributed', ...args, '--output-dir', path.join(tmp, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(() => readdirSync(path.join(tmp, 'never'))).toThrow();
  });

  it('an output directory that cannot be written exits 2 before any rank starts', () => {
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const r = cli([
      'ring',
      '--distributed',
      '--ranks',
      '2',
      '--total-tokens',
      '64',
      '--output-dir',
      path.join(file, 'sub'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--output-dir/);
  });

  it('--device cuda without GPU ranks exits 2 naming --device, --ranks and what is missing, before anything is written', () => {
    // the CPU build and no GPU rank executable, whatever this machine has
    const env = {
      DILBENCH_BACKEND: 'cpu',
      DILBENCH_RING_RANK_GPU: path.join(tmp, 'no-such-gpu-rank'),
    };
    const out = path.join(tmp, 'never-cuda');
    const r = cli(
      [
        'ring',
        '--distributed',
        '--device',
        'cuda',
        '--ranks',
        '2',
        '--total-tokens',
        '256',
        '--output-dir',
        out,
      ],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /invalid --device: "cuda" \(GPU ranks cannot run here: no GPU rank executable is built \(dilbench-ring-rank-nccl or dilbench-ring-rank-cuda-mpi; looked at [^)]*no-such-gpu-rank, from DILBENCH_RING_RANK_GPU/,
    );
    expect(r.stderr).toMatch(
      /--ranks 2 needs 2 CUDA device\(s\), one per rank, and there is no CUDA device: the (loaded dilbench build has no CUDA backend|CUDA backend is built but no device is usable)/,
    );
    expect(r.stderr).toMatch(/allowed: cpu .*at least --ranks CUDA devices/);
    expect(() => readdirSync(out)).toThrow();
    const d = cli(['doctor', '--json'], env);
    const rep = JSON.parse(d.stdout) as {
      distributedGpu: { available: boolean; reason: string; maxRanks: number };
    };
    expect(rep.distributedGpu).toMatchObject({ available: false, maxRanks: 0 });
    expect(rep.distributedGpu.reason).toMatch(
      /no GPU rank executable is built.*(no CUDA backend|no device is usable)/,
    );
    expect(cli(['doctor'], env).stdout).toMatch(
      /distributed GPUs +unavailable: no GPU rank executable is built/,
    );
  });

  it('says why when the rank executable is missing (exit 1), and doctor says so too', () => {
    const env = { DILBENCH_RING_RANK: path.join(tmp, 'no-such-rank') };
    const r = cli(
      [
        'ring',
        '--distributed',
        '--ranks',
        '2',
        '--total-tokens',
        '64',
        '--output-dir',
        path.join(tmp, 'never2'),
      ],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /distributed runs are unavailable: the MPI rank executable dilbench-ring-rank is not built/,
    );
    const d = cli(['doctor', '--json'], env);
    const rep = JSON.parse(d.stdout) as { distributed: { available: boolean; reason: string } };
    expect(rep.distributed.available).toBe(false);
    expect(rep.distributed.reason).toMatch(/not built/);
  });
});
