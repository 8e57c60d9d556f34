import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import {
  compileToVega,
  latencySpec,
  memorySpec,
  optimizationImpactSpec,
  performanceOverTimeSpec,
  renderSvg,
  ringSpec,
  speedupSpec,
  svgToPng,
  throughputSpec,
  writeSuitePlots,
  type HistoryPoint,
  type VlSpec,
} from '../../src/reports/plots/index.js';
import { inferenceOverTimeSpec } from '../../src/reports/plots/inference.js';
import { latencyCurveSpec } from '../../src/reports/plots/scaling.js';
import { IMPLEMENTATION_STYLES, implementationStyle } from '../../src/reports/plots/data.js';
import { decodePng, loadFixture, pngSize, variance } from './helpers.js';

const seq = loadFixture('sequence-ranges_2026-11-20');
const opt = loadFixture('optimization-impact');
const ring = loadFixture('ring');

const layer = (spec: VlSpec, name: string): VlSpec => {
  const l = (spec.layer as VlSpec[]).find((x) => x.name === name);
  if (!l) throw new Error(`no layer ${name}`);
  return l;
};
const markType = (m: unknown): string => (typeof m === 'string' ? m : (m as { type: string }).type);

describe('plot specs from fixture results', () => {
  it('latency: log-log median line, p10-p90 band, skipped and failed points kept', () => {
    const spec = latencySpec(seq)!;
    expect(spec).not.toBeNull();
    const line = layer(spec, 'line');
    expect(markType(line.mark)).toBe('line');
    expect(line.encoding.x.field).toBe('seqLen');
    expect(line.encoding.x.scale.type).toBe('log');
    expect(line.encoding.y.field).toBe('medianMs');
    expect(line.encoding.y.scale.type).toBe('log');
    expect(line.encoding.y.title).toMatch(/ms/);
    expect(line.encoding.x.title).toMatch(/tokens/);
    const band = layer(spec, 'band');
    expect(markType(band.mark)).toBe('area');
    expect(band.encoding.y.field).toBe('p10Ms');
    expect(band.encoding.y2.field).toBe('p90Ms');
    const nm = layer(spec, 'not-measured');
    expect(nm.transform[0].filter).toContain("!= 'ok'");
    const values = spec.data.values as { status: string; seqLen: number; implementation: string }[];
    expect(values).toHaveLength(seq.results.length);
    expect(
      values.some(
        (v) => v.status === 'skipped' && v.implementation === 'naive' && v.seqLen === 8192,
      ),
    ).toBe(true);
    expect(values.some((v) => v.status === 'failed')).toBe(true);
    expect(spec.title.subtitle[0]).toContain(seq.environment.cpuModel);
    expect(spec.title.subtitle[1]).toMatch(/8 heads/);
    // colours come from the one palette, by implementation
    const color = layer(spec, 'line').encoding.color;
    expect(color.scale.range[color.scale.domain.indexOf('flash')]).toBe(
      IMPLEMENTATION_STYLES.flash!.color,
    );
  });

  it('series names: a skipped point without pool/cache flags does not add "pool on, cache on" to every name', () => {
    const rows = seq.results
      .filter((r) => r.status === 'ok')
      .slice(0, 3)
      .map((r) => ({ ...r, memoryPool: true, patternCache: true }));
    const skipped = {
      ...rows[0]!,
      implementation: 'ring',
      status: 'skipped' as const,
      stats: null,
      samplesMs: [],
      memoryPool: undefined,
      patternCache: undefined,
    };
    const values = latencySpec({ ...seq, results: [...rows, skipped] })!.data.values as {
      series: string;
    }[];
    expect(values.map((v) => v.series).filter((s) => /pool|cache/.test(s))).toEqual([]);
  });

  it('latency: one label per length for the points that did not run, never several printed over each other', async () => {
    const at16k = seq.results.filter((r) => r.seqLen === 16384);
    const extra = ['ring', 'kv-cache'].map((impl) => ({
      ...at16k[0]!,
      implementation: impl,
      status: 'skipped' as const,
      stats: null,
      samplesMs: [],
      reason: 'over budget',
      estimatedSeconds: undefined,
    }));
    const svg = await renderSvg(latencySpec({ ...seq, results: [...seq.results, ...extra] })!);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
    expect(texts).toContain('2 skipped, 1 failed');
    expect(texts).toContain('skipped'); // naive at 8K, alone
    expect(texts.filter((t) => /skipped|failed/.test(t))).toHaveLength(2);
  });

  it('latency: a point stopped by Ctrl-C is drawn as interrupted, not failed', () => {
    const cut = {
      ...seq,
      results: seq.results.map((r, i) =>
        i === 0
          ? {
              ...r,
              status: 'failed' as const,
              errorCode: 'ERR_DILBENCH_CANCELLED',
              stats: null,
              samplesMs: [],
            }
          : r,
      ),
    };
    const values = latencySpec(cut)!.data.values as { status: string }[];
    expect(values[0]!.status).toBe('interrupted');
  });

  it('memory: log-log peak memory in MiB, estimates for skipped rows', () => {
    const spec = memorySpec(seq)!;
    const line = layer(spec, 'line');
    expect(line.encoding.y.field).toBe('memMiB');
    expect(line.encoding.y.scale.type).toBe('log');
    expect(line.encoding.x.scale.type).toBe('log');
    expect(line.encoding.y.title).toMatch(/MiB/);
    expect(
      (spec.data.values as { kind: string }[]).filter((v) => v.kind === 'estimate').length,
    ).toBeGreaterThan(0);
  });

  it('throughput: tokens/s panel and % of measured peak panel', () => {
    const spec = throughputSpec(seq)!;
    expect(spec.hconcat).toHaveLength(2);
    const [tps, pct] = spec.hconcat as [VlSpec, VlSpec]; // length checked above
    expect(tps.layer[0].encoding.y.field).toBe('tokensPerSecond');
    expect(tps.layer[0].encoding.y.title).toMatch(/tokens\/s/);
    expect(pct.name).toBe('percent-of-peak');
    expect(pct.layer[0].encoding.y.field).toBe('percentOfPeak');
    const v = (spec.data.values as { percentOfPeak: number; gflops: number }[])[0]!;
    expect(v.percentOfPeak).toBeCloseTo((v.gflops / 450) * 100, 6);
    // without a measured peak the right panel falls back to GFLOP/s
    const noPeak = throughputSpec({
      ...seq,
      environment: { ...seq.environment, peak: undefined },
    })!;
    expect((noPeak.hconcat as VlSpec[])[1]!.name).toBe('gflops');
  });

  it('throughput: the legend sits beside the right panel, not past a blank strip', async () => {
    const spec = throughputSpec(seq)!;
    const svg = await renderSvg(spec);
    const at = (re: RegExp) => Number(re.exec(svg)?.[1]);
    const panelX = at(/percent_of_peak_group"[^>]*><g transform="translate\(([\d.]+),/);
    const legendX = at(/role-legend"[^>]*><g transform="translate\(([\d.]+),/);
    const panelWidth = (spec.hconcat as VlSpec[])[1]!.width as number;
    expect(Number.isFinite(panelX) && Number.isFinite(legendX)).toBe(true);
    // the legend starts within a few dozen pixels of the panel's right edge (it was 193 px past it)
    expect(legendX - (panelX + panelWidth)).toBeGreaterThanOrEqual(0);
    expect(legendX - (panelX + panelWidth)).toBeLessThan(60);
  });

  it('speedup vs naive: grouped bars on log y with a 1x rule; null without the baseline', () => {
    const spec = speedupSpec(seq, 'naive')!;
    const bars = layer(spec, 'bars');
    expect(markType(bars.mark)).toBe('bar');
    expect(bars.encoding.y.field).toBe('speedup');
    expect(bars.encoding.y.scale.type).toBe('log');
    expect(markType(layer(spec, 'parity').mark)).toBe('rule');
    const vals = spec.data.values as { implementation: string; seqLen: number; speedup: number }[];
    expect(vals.every((v) => v.implementation === 'flash')).toBe(true);
    expect(vals.map((v) => v.seqLen).sort((a, b) => a - b)).toEqual([1024, 2048, 4096]);
    const naive1k = seq.results.find((r) => r.implementation === 'naive' && r.seqLen === 1024)!;
    const flash1k = seq.results.find((r) => r.implementation === 'flash' && r.seqLen === 1024)!;
    expect(vals.find((v) => v.seqLen === 1024)!.speedup).toBeCloseTo(
      naive1k.stats!.medianMs / flash1k.stats!.medianMs,
      9,
    );
    expect(speedupSpec(seq, 'no-such-impl')).toBeNull();
    expect(speedupSpec(seq, 'flash')).not.toBeNull();
  });

  it('optimization impact: time and memory panels over the four configurations', () => {
    const spec = optimizationImpactSpec(opt)!;
    expect(spec.vconcat).toHaveLength(2);
    const [time, mem] = spec.vconcat as [VlSpec, VlSpec]; // length checked above
    expect(time.encoding.y.field).toBe('medianMs');
    expect(mem.encoding.y.field).toBe('memMiB');
    expect(time.encoding.color.scale.domain).toEqual([
      'baseline',
      'pattern cache only',
      'memory pool only',
      'both',
    ]);
    const configs = new Set(
      (spec.data.values as { configuration: string }[]).map((v) => v.configuration),
    );
    expect(configs.size).toBe(4);
    expect(optimizationImpactSpec(seq)).toBeNull();
  });

  it('ring: measured compute vs projected communication per step', () => {
    const spec = ringSpec(ring)!;
    const vals = spec.data.values as { kind: string; ms: number; line: string }[];
    expect(vals.filter((v) => v.kind.startsWith('compute per step'))).toHaveLength(4);
    expect(vals.filter((v) => v.kind.startsWith('communication per step, projected'))).toHaveLength(
      8,
    );
    expect(vals.some((v) => /projected \(NVLink/.test(v.kind))).toBe(true);
    // every legend entry (dash kinds, ring sizes) is a series that is drawn: no phantom entries
    const lines = layer(spec, 'lines').encoding;
    expect(lines.strokeDash.scale.domain.sort()).toEqual(
      [...new Set(vals.map((v) => v.kind))].sort(),
    );
    expect(lines.color.scale.range).toEqual([IMPLEMENTATION_STYLES.ring!.color]);
    expect(layer(spec, 'lines').encoding.y.scale.type).toBe('log');
    expect(layer(spec, 'lines').encoding.strokeDash.field).toBe('kind');
    expect(ringSpec(seq)).toBeNull();
  });

  it('ring at P = 1: compute only, and the title says why no communication is drawn', () => {
    const single = {
      ...ring,
      results: ring.results.map((r) => ({
        ...r,
        params: { ...(r.params ?? {}), ringSize: 1 },
        projected: { ...(r.projected ?? {}), ringSize: 1 },
      })),
    };
    const spec = ringSpec(single)!;
    const vals = spec.data.values as { kind: string }[];
    expect(vals.length).toBeGreaterThan(0);
    expect(vals.every((v) => v.kind.startsWith('compute per step'))).toBe(true);
    expect(JSON.stringify(spec.title)).toContain('P = 1 sends nothing');
    expect(JSON.stringify(ringSpec(ring)!.title)).toContain('vs communication (projected)');
  });

  it('performance over time: temporal x, log y, one panel per length', () => {
    const points: HistoryPoint[] = [seq, loadFixture('sequence-ranges_2026-11-21')].flatMap((f) =>
      f.results.map((row) => ({
        runId: f.runId,
        timestamp: f.createdAt,
        gitCommit: f.environment.gitCommit,
        environment: f.environment,
        row,
      })),
    );
    const spec = performanceOverTimeSpec(points)!;
    expect(spec.facet.field).toBe('seqLenLabel');
    expect(spec.spec.layer[0].encoding.x.type).toBe('temporal');
    expect(spec.spec.layer[0].encoding.y.scale.type).toBe('log');
    expect(performanceOverTimeSpec([])).toBeNull();
  });

  it('every spec compiles with vega-lite', () => {
    for (const s of [
      latencySpec(seq),
      memorySpec(seq),
      throughputSpec(seq),
      speedupSpec(seq),
      optimizationImpactSpec(opt),
      ringSpec(ring),
    ]) {
      expect(() => compileToVega(s!)).not.toThrow();
    }
  });
});

describe('rendering', () => {
  it('writeSuitePlots writes non-trivial SVG and PNG files', async () => {
    // DILBENCH_PLOT_DIR keeps the images somewhere to look at
    const dir = process.env.DILBENCH_PLOT_DIR ?? mkdtempSync(join(tmpdir(), 'dilbench-plots-'));
    const files = await writeSuitePlots(seq, dir, { baseline: 'naive' });
    const kinds = ['latency', 'memory', 'throughput', 'speedup'];
    for (const k of kinds) {
      expect(files).toContain(join(dir, `sequence-ranges_${k}.svg`));
      expect(files).toContain(join(dir, `sequence-ranges_${k}.png`));
    }
    for (const f of files) {
      if (f.endsWith('.svg')) {
        const svg = readFileSync(f, 'utf8');
        expect(svg.startsWith('<svg')).toBe(true);
        expect(svg).toContain('<path');
        expect(svg).toContain('Sequence length');
        expect(statSync(f).size).toBeGreaterThan(5000);
      } else {
        const png = readFileSync(f);
        const { width, height } = pngSize(png);
        // default rasterisation is 2x the SVG's own size
        const svg = readFileSync(f.replace(/\.png$/, '.svg'), 'utf8');
        const w = Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)![1]);
        expect(width).toBe(Math.round(w * 2));
        expect(height).toBeGreaterThan(300);
        const decoded = decodePng(png);
        expect(decoded.pixels.length).toBe(width * height * decoded.channels);
        expect(variance(decoded.pixels)).toBeGreaterThan(10);
      }
    }
    const opts = await writeSuitePlots(opt, dir, { formats: ['svg'] });
    expect(opts.some((f) => f.endsWith('optimization-impact_optimization-impact.svg'))).toBe(true);
    expect(opts.every((f) => f.endsWith('.svg'))).toBe(true);
    const rings = await writeSuitePlots(ring, dir, { formats: ['png'] });
    expect(rings).toContain(join(dir, 'ring_ring.png'));
  });

  it('a file with nothing measured writes only what applies, never throws', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-plots-empty-'));
    expect(await writeSuitePlots({ ...seq, results: [] }, dir)).toEqual([]);
    const onlySkipped = { ...seq, results: seq.results.filter((r) => r.status !== 'ok') };
    expect(await writeSuitePlots(onlySkipped, dir)).toEqual([]);
    // speedup needs the baseline: without naive rows it is left out
    const noNaive = { ...seq, results: seq.results.filter((r) => r.implementation !== 'naive') };
    const files = await writeSuitePlots(noNaive, dir, { formats: ['svg'] });
    expect(files.some((f) => f.includes('speedup'))).toBe(false);
    expect(files.some((f) => f.endsWith('_latency.svg'))).toBe(true);
  });

  it('PNG has the size asked for and is not blank', async () => {
    const svg = await renderSvg(latencySpec(seq)!);
    const { png, width, height } = svgToPng(svg, { width: 900 });
    expect(pngSize(png)).toEqual({ width: 900, height });
    expect(width).toBe(900);
    const pixels = new Resvg(svg, {
      fitTo: { mode: 'width', value: 900 },
      background: 'white',
    }).render().pixels;
    expect(variance(new Uint8Array(pixels))).toBeGreaterThan(10);
    const decoded = decodePng(png);
    // not blank: a good share of pixels differ from the white background
    let nonWhite = 0;
    for (let i = 0; i < decoded.pixels.length; i += decoded.channels)
      if (decoded.pixels[i]! < 200) nonWhite++;
    expect(nonWhite / (decoded.width * decoded.height)).toBeGreaterThan(0.005);
  });
});

describe('series styles', () => {
  it('gives every one of the registered implementations its own (colour, shape) pair', async () => {
    const { OKABE_ITO, SHAPES } = await import('../../src/reports/plots/data.js');
    // vega cycles both ranges over the series domain
    const pairs = new Set(
      Array.from(
        { length: 24 },
        (_, i) => `${OKABE_ITO[i % OKABE_ITO.length]}|${SHAPES[i % SHAPES.length]}`,
      ),
    );
    expect(pairs.size).toBe(24);
  });
});

describe('model plots: the device/dtype side in the series', () => {
  const inferRec = (device?: string, dtype?: string) => ({
    run_id: 'r',
    timestamp: '2026-01-01T00:00:00Z',
    model: 'gpt2',
    mode: 'kv-cache' as const,
    prompt_label: 'p',
    prompt_tokens: 4,
    new_tokens: 8,
    tokens_per_second: 10,
    time_per_token_ms: 100,
    total_time_ms: 800,
    first_token_latency_ms: 5,
    weights_mb: 1,
    kv_cache_mb: 1,
    workspace_mb: 1,
    peak_memory_mb: 3,
    ...(device ? { device } : {}),
    ...(dtype ? { dtype } : {}),
  });
  const series = (spec: VlSpec | null): string[] =>
    (spec?.data as { values: { series: string }[] }).values.map((v) => v.series);

  it('inference over time: a record without a side is cpu/fp32 and unnamed; other sides are named', () => {
    expect(
      series(
        inferenceOverTimeSpec([
          inferRec(),
          inferRec('cpu', 'fp32'),
          inferRec('cuda', 'bf16'),
          inferRec(undefined, 'fp16'),
        ]),
      ),
    ).toEqual([
      'gpt2 - KV cache',
      'gpt2 - KV cache',
      'gpt2, cuda/bf16 - KV cache',
      'gpt2, cpu/fp16 - KV cache',
    ]);
  });

  it('latency curve: the side is named only when the rows have several (a row without one is cpu/fp32)', () => {
    const row = (device?: string, dtype?: string) => ({
      exp_id: 'e',
      arch: 'decoder',
      model: 'm',
      context_length: 64,
      latency_ms: 1,
      latency_min_ms: 1,
      latency_max_ms: 1,
      max_memory_gb: 0.1,
      ...(device ? { device } : {}),
      ...(dtype ? { dtype } : {}),
    });
    expect(series(latencyCurveSpec([row(), row('cpu', 'fp32')]))).toEqual([
      'decoder (m)',
      'decoder (m)',
    ]);
    expect(series(latencyCurveSpec([row(), row('cuda', 'fp32')]))).toEqual([
      'decoder (m, cpu/fp32)',
      'decoder (m, cuda/fp32)',
    ]);
  });
});

describe('one palette across every plot', () => {
  /** series -> colour of every colour scale keyed by implementation series in a spec */
  const colours = (spec: VlSpec): Map<string, string> => {
    const out = new Map<string, string>();
    const visit = (v: unknown): void => {
      if (!v || typeof v !== 'object') return;
      const o = v as Record<string, unknown>;
      const c = o['color'] as
        { field?: string; scale?: { domain?: string[]; range?: string[] } } | undefined;
      if (
        c?.scale?.domain &&
        c.scale.range &&
        (c.field === 'series' || c.field === 'implementation')
      ) {
        c.scale.domain.forEach((d, i) => out.set(d.replace(/ \(.*$/, ''), c.scale!.range![i]!));
      }
      for (const x of Object.values(o)) visit(x);
    };
    visit(spec);
    return out;
  };

  it('gives each implementation the same colour in the latency, memory, throughput, speedup and ring plots, distinct across implementations', () => {
    const specs = [
      latencySpec(seq),
      memorySpec(seq),
      throughputSpec(seq),
      speedupSpec(seq),
      ringSpec(ring),
      latencySpec(ring),
      latencySpec(opt),
    ];
    const seen = new Map<string, string>();
    for (const spec of specs) {
      for (const [impl, colour] of colours(spec!)) {
        expect(colour, impl).toBe(implementationStyle(impl).color);
        if (seen.has(impl)) expect(colour).toBe(seen.get(impl));
        seen.set(impl, colour);
      }
    }
    expect(seen.size).toBeGreaterThanOrEqual(4);
    const table = Object.values(IMPLEMENTATION_STYLES);
    expect(new Set(table.map((t) => t.color)).size).toBe(table.length);
    // no yellow: Okabe-Ito's #F0E442 is unreadable on white
    expect(table.map((t) => t.color)).not.toContain('#F0E442');
    // the built-in implementations have distinct markers too
    const builtIn = [
      'naive',
      'flash',
      'kv-cache',
      'kv-cache-recompute',
      'dilated',
      'dilated-grouped',
      'ring',
      'ring-dilated',
      'block-sparse',
    ];
    expect(new Set(builtIn.map((n) => IMPLEMENTATION_STYLES[n]!.shape)).size).toBe(builtIn.length);
  });

  it('draws ring in its palette colour in the rendered PNG of the latency and the ring plot', async () => {
    const hex = IMPLEMENTATION_STYLES.ring!.color;
    const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    for (const spec of [latencySpec(ring)!, ringSpec(ring)!]) {
      const { pixels, channels } = decodePng(svgToPng(await renderSvg(spec)).png);
      let exact = 0;
      for (let i = 0; i < pixels.length; i += channels)
        if (pixels[i] === rgb[0] && pixels[i + 1] === rgb[1] && pixels[i + 2] === rgb[2]) exact++;
      expect(exact).toBeGreaterThan(50);
    }
  });

  it('speedup: no value labels that can collide, and bars of other functions faded with a caveat', () => {
    const spec = speedupSpec(seq, 'naive')!;
    expect((spec.layer as VlSpec[]).some((l) => markType(l.mark) === 'text')).toBe(false);
    const sparse = {
      ...seq,
      results: [
        ...seq.results,
        ...seq.results
          .filter((r) => r.implementation === 'flash')
          .map((r) => ({ ...r, implementation: 'block-sparse' })),
      ],
    };
    const s2 = speedupSpec(sparse, 'naive')!;
    const vals = s2.data.values as { series: string; comparable: string }[];
    expect(
      vals
        .filter((v) => v.series.startsWith('block-sparse'))
        .every((v) => v.series.endsWith('(other function)') && v.comparable !== 'yes'),
    ).toBe(true);
    expect(s2.title.subtitle.join(' ')).toMatch(/not comparable as a speedup/);
    expect(layer(s2, 'bars').encoding.opacity.value).toBeLessThan(1);
  });
});
