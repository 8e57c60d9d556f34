// The built CLI's `inference --compare-devices --compare-dtypes fp32,bf16` and `scaling
// --compare-devices` at tiny sizes on two real addons: the stand-in CUDA addon
// (build-model-fake-addon: the whole addon compiled against host stand-ins of the CUDA runtime,
// one fake device; its times are host emulation, not GPU figures) runs the cpu and cuda sides and
// compares them; the normal CPU addon skips the cuda sides with the reason and exits 0.
// Each part is skipped, saying why, when its addon or dist/ is not built.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type {
  InferenceMetricsFile,
  InferenceRecord,
  InferenceSideComparison,
} from '../../src/inference/benchmark.js';
import type { ModelSide } from '../../src/inference/sides.js';
import type { ScalingResultFile } from '../../src/scaling/run.js';
import { cli, distBuilt, root, runModule } from './helpers.js';

const fakeAddon = join(root, 'build-model-fake-addon', 'Release', 'dilbench.node');
const tmp = mkdtempSync(join(tmpdir(), 'dilbench-model-sides-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const fakeSkip = !distBuilt
  ? 'dist/ is not built (npm run build:ts)'
  : !existsSync(fakeAddon)
    ? `${fakeAddon} is not built (npx cmake-js compile -d native/cuda/model/fake/addon --out build-model-fake-addon)`
    : '';
if (fakeSkip) console.log(`model sides e2e on the stand-in CUDA addon skipped: ${fakeSkip}`);

/** The CPU addon the loader picks by default, or why there is none. */
function cpuAddonProbe(): string {
  if (!distBuilt) return 'dist/ is not built (npm run build:ts)';
  const r = runModule(
    "const m = await import('./dist/src/native/dilbench.js'); const b = m.loadBinding(); console.log(JSON.stringify({ models: typeof b.createModel === 'function', cuda: b.modelInfo?.().cudaCompiled === true }));",
    { DILBENCH_ADDON_PATH: '' },
  );
  if (r.status !== 0)
    return `the addon does not load: ${r.stderr.split('\n').find((l) => l.trim()) ?? ''}`;
  const p = JSON.parse(r.stdout) as { models: boolean; cuda: boolean };
  if (!p.models) return 'the addon has no model core';
  if (p.cuda)
    return 'the default addon carries the CUDA model: the no-CUDA path is not reachable with it';
  return '';
}
const cpuSkip = cpuAddonProbe();
if (cpuSkip) console.log(`model sides e2e on the CPU addon skipped: ${cpuSkip}`);

const TINY =
  'name: tiny\narch: decoder\nvocabSize: 300\nmaxPositions: 64\nhidden: 32\nlayers: 2\nheads: 2\nkvHeads: 1\nintermediate: 64\nnorm: rmsnorm\nactivation: swiglu\npositional: rope\nropeTheta: 10000\ntiedEmbeddings: true\n';
const model = join(tmp, 'tiny.yaml');
writeFileSync(model, TINY);
const scalingYaml = join(tmp, 'tiny-scaling.yaml');
writeFileSync(
  scalingYaml,
  `name: tiny-e2e\narch: decoder\nmodel: ${model}\ncontext_lengths: [8, 24]\nnum_tokens: 3\nnum_runs: 2\nwarmup_runs: 1\nimplementation: flash\n`,
);

/** The CLI on the addon at `addon` ('' = the loader's default). */
const cliOn = (args: string[], addon: string) => cli(args, { DILBENCH_ADDON_PATH: addon });

const INFERENCE = [
  'inference',
  '--model',
  model,
  '--prompt-length',
  '6',
  '--max-length',
  '8',
  '--runs',
  '2',
  '--warmup',
  '1',
  '--threads',
  '1',
  '--compare-devices',
  '--compare-dtypes',
  'fp32,bf16',
  '--no-plots',
  '--json',
];

interface JsonOut {
  records: InferenceRecord[];
  sideComparisons: InferenceSideComparison[];
  sides: ModelSide[];
}

describe.skipIf(!!fakeSkip)('model sides on the stand-in CUDA addon (one fake device)', () => {
  it('inference --compare-devices --compare-dtypes fp32,bf16: cpu/fp32, cuda/fp32 and cuda/bf16 run and are compared; exit 0', () => {
    const dir = join(tmp, 'fake-inf');
    const r = cliOn([...INFERENCE, '--benchmark-dir', dir], fakeAddon);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.sides.map((s) => `${s.device}/${s.dtype} ${s.status}`)).toEqual([
      'cpu/fp32 ok',
      'cpu/bf16 skipped',
      'cuda/fp32 ok',
      'cuda/bf16 ok',
    ]);
    expect(out.sides[1]!.reason).toMatch(/CPU model runs fp32 only/);
    expect(out.records.map((x) => `${x.device}/${x.dtype} ${x.mode}`)).toEqual([
      'cpu/fp32 recompute',
      'cpu/fp32 kv-cache',
      'cuda/fp32 recompute',
      'cuda/fp32 kv-cache',
      'cuda/bf16 recompute',
      'cuda/bf16 kv-cache',
    ]);
    for (const x of out.records) {
      expect(x.tokens_per_second).toBeGreaterThan(0);
      expect(x.peak_memory_mb).toBeGreaterThan(0);
    }
    const weights = (side: string): number =>
      out.records.find((x) => `${x.device}/${x.dtype}` === side)!.weights_mb;
    // bf16 stores the matrices in 2 bytes (norm and bias vectors stay fp32): less than the fp32 model, more than half
    expect(weights('cuda/bf16')).toBeLessThan(weights('cuda/fp32'));
    expect(weights('cuda/bf16')).toBeGreaterThan(weights('cuda/fp32') / 2);
    expect(out.sideComparisons.map((c) => `${c.side} ${c.mode}`)).toEqual([
      'cuda/fp32 recompute',
      'cuda/fp32 kv-cache',
      'cuda/bf16 recompute',
      'cuda/bf16 kv-cache',
    ]);
    for (const c of out.sideComparisons) {
      expect(c.baseline).toBe('cpu/fp32');
      expect(c.tokens_per_second_ratio).toBeCloseTo(
        c.tokens_per_second / c.baseline_tokens_per_second,
        2,
      );
      expect(c.peak_memory_ratio).toBeCloseTo(c.peak_memory_mb / c.baseline_peak_memory_mb, 2);
    }
    // fp32 on the (stand-in) device generates the CPU's tokens
    expect(
      out.sideComparisons
        .filter((c) => c.side === 'cuda/fp32')
        .every((c) => c.tokens_match_baseline && c.tokens_must_match),
    ).toBe(true);
    const json = JSON.parse(
      readFileSync(join(dir, 'inference_metrics.json'), 'utf8'),
    ) as InferenceMetricsFile;
    expect(json.side_comparisons).toEqual(out.sideComparisons);
    const csv = readFileSync(join(dir, 'inference_metrics.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(7);
  });

  it('scaling --compare-devices: points per side, the CSV carries device and dtype, ratios per context', () => {
    const dir = join(tmp, 'fake-scal');
    const r = cliOn(
      [
        'scaling',
        '--config',
        scalingYaml,
        '--compare-devices',
        '--threads',
        '1',
        '--out',
        dir,
        '--no-plots',
        '--json',
      ],
      fakeAddon,
    );
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ScalingResultFile;
    expect(file.points.map((p) => `${p.device}/${p.dtype}@${p.context_length}`)).toEqual([
      'cpu/fp32@8',
      'cpu/fp32@24',
      'cuda/fp32@8',
      'cuda/fp32@24',
    ]);
    expect(file.side_comparisons!.map((c) => [c.side, c.context_length])).toEqual([
      ['cuda/fp32', 8],
      ['cuda/fp32', 24],
    ]);
    for (const c of file.side_comparisons!) expect(c.latency_ratio).toBeGreaterThan(0);
    const [head, ...rows] = readFileSync(join(dir, 'tables', 'inference_results.csv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const col = (name: string): number => head!.indexOf(name);
    expect(rows.map((x) => `${x[col('device')]}/${x[col('dtype')]}`)).toEqual([
      'cpu/fp32',
      'cpu/fp32',
      'cuda/fp32',
      'cuda/fp32',
    ]);
  });
});

describe.skipIf(!!cpuSkip)('model sides on the CPU addon (built without CUDA)', () => {
  it('inference --compare-devices --compare-dtypes fp32,bf16: cpu/fp32 runs, the others are skipped with the reason; exit 0', () => {
    const r = cliOn([...INFERENCE, '--benchmark-dir', join(tmp, 'cpu-inf')], '');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.records.map((x) => `${x.device}/${x.dtype}`)).toEqual(['cpu/fp32', 'cpu/fp32']);
    expect(out.sides.map((s) => `${s.device}/${s.dtype}: ${s.reason ?? 'ok'}`)).toEqual([
      'cpu/fp32: ok',
      'cpu/bf16: the CPU model runs fp32 only (fp16/bf16 models run on a CUDA device)',
      'cuda/fp32: the loaded dilbench addon has no CUDA model (built without CUDA)',
      'cuda/bf16: the loaded dilbench addon has no CUDA model (built without CUDA)',
    ]);
    expect(out.sideComparisons).toEqual([]);
    const text = cliOn(
      INFERENCE.filter((a) => a !== '--json').concat('--benchmark-dir', join(tmp, 'cpu-inf')),
      '',
    );
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(
      'cuda/bf16 skipped: the loaded dilbench addon has no CUDA model (built without CUDA)',
    );
  });
});
