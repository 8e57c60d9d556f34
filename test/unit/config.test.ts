import { describe, expect, it } from 'vitest';
import { configError } from '../helpers/config-error.js';
import { expandRange, loadRanges, rangeNames } from '../../src/config/ranges.js';
import { parseSequenceRangesOptions } from '../../src/config/schema.js';
import { formatBytes, parseByteSize, parseLength } from '../../src/config/units.js';

describe('ranges', () => {
  it('expands every named range to exact token counts', () => {
    expect(expandRange('production')).toEqual([1024, 2048, 4096, 8192, 12288, 16384]);
    expect(expandRange('medium')).toEqual([32768, 49152, 65536, 98304, 131072]);
    expect(expandRange('long')).toEqual([262144, 393216, 524288, 786432, 1048576]);
    expect(expandRange('document')).toEqual([512, 1024, 2048, 4096]);
    expect(expandRange('context')).toEqual([4096, 8192, 16384, 32768]);
    expect(expandRange('book')).toEqual([50000, 100000, 200000]);
  });

  it('all is the sorted union without duplicates', () => {
    const all = expandRange('all');
    const union = new Set(Object.values(loadRanges()).flatMap((r) => r.lengths));
    expect(all).toEqual([...union].sort((a, b) => a - b));
    expect(all[0]).toBe(512);
    expect(all.at(-1)).toBe(1048576);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toContain(50000);
    expect(all.length).toBe(20);
  });

  it('lists the range names with all and custom', () => {
    expect(rangeNames()).toEqual([
      'production',
      'medium',
      'long',
      'document',
      'context',
      'book',
      'all',
      'custom',
    ]);
  });

  it('parses lengths and sizes', () => {
    expect(parseLength('12K')).toBe(12288);
    expect(parseLength('1M')).toBe(1048576);
    expect(parseLength('50000')).toBe(50000);
    expect(parseLength('abc')).toBeNaN();
    expect(parseByteSize('8GiB')).toBe(8 * 1024 ** 3);
    expect(parseByteSize('512MiB')).toBe(512 * 1024 ** 2);
    expect(parseByteSize('1000000')).toBe(1000000);
    expect(parseByteSize('2GB')).toBe(2e9);
    expect(parseByteSize('lots')).toBeNaN();
    expect(formatBytes(34.4 * 1024 ** 3)).toBe('34.4 GiB');
  });
});

describe('sequence-ranges options', () => {
  it('applies the defaults', () => {
    const o = parseSequenceRangesOptions({});
    expect(o).toMatchObject({
      range: 'production',
      lengths: [1024, 2048, 4096, 8192, 12288, 16384],
      batchSize: 1,
      heads: 8,
      kvHeads: 8,
      headDim: 64,
      causal: false,
      threads: 0,
      seed: 42,
      outputDir: 'benchmark_results',
      device: 'cpu',
      json: false,
      quiet: false,
    });
    expect(o.implementations).toBeUndefined();
    expect(o.memoryBudget).toBeUndefined();
  });

  it('takes CLI strings: custom lengths comma- or space-separated, flags as numbers', () => {
    const o = parseSequenceRangesOptions({
      range: 'custom',
      customLengths: ['128,256', '4K'],
      implementations: ['naive,flash'],
      batchSize: '2',
      heads: '16',
      kvHeads: '4',
      headDim: '128',
      causal: true,
      warmup: '1',
      runs: '3',
      memoryBudget: '512MiB',
      maxRunSeconds: '30',
    });
    expect(o.lengths).toEqual([128, 256, 4096]);
    expect(o.implementations).toEqual(['naive', 'flash']);
    expect(o).toMatchObject({
      batchSize: 2,
      heads: 16,
      kvHeads: 4,
      headDim: 128,
      causal: true,
      warmup: 1,
      runs: 3,
    });
    expect(o.memoryBudget).toBe(512 * 1024 * 1024);
    expect(o.maxRunSeconds).toBe(30);
    expect(
      parseSequenceRangesOptions({ range: 'custom', customLengths: '128 256' }).lengths,
    ).toEqual([128, 256]);
    expect(parseSequenceRangesOptions({ customLengths: [128, 128, 64] }).lengths).toEqual([
      128, 64,
    ]);
  });

  it('names the field, the value and what is allowed', () => {
    let e = configError(() => parseSequenceRangesOptions({ heads: 'abc' }));
    expect(e.field).toBe('heads');
    expect(e.value).toBe('abc');
    expect(e.message).toContain('invalid heads: "abc"');
    expect(e.message).toContain('allowed: an integer >= 1');
    expect(e.code).toBe('ERR_DILBENCH_INVALID_CONFIG');
    expect(e.withFlagName().message).toContain('invalid --heads: "abc"');

    e = configError(() => parseSequenceRangesOptions({ range: 'huge' }));
    expect(e.field).toBe('range');
    expect(e.message).toContain('production, medium, long, document, context, book, all, custom');

    e = configError(() => parseSequenceRangesOptions({ batchSize: '0' }));
    expect(e.field).toBe('batchSize');
    expect(e.withFlagName().message).toContain('--batch-size');

    e = configError(() => parseSequenceRangesOptions({ memoryBudget: 'lots' }));
    expect(e.field).toBe('memoryBudget');
    expect(e.message).toContain('8GiB');

    e = configError(() => parseSequenceRangesOptions({ heads: 8, kvHeads: 3 }));
    expect(e.field).toBe('kvHeads');

    e = configError(() => parseSequenceRangesOptions({ range: 'custom' }));
    expect(e.field).toBe('customLengths');
    expect(e.message).toContain('required with --range custom');

    e = configError(() =>
      parseSequenceRangesOptions({ range: 'production', customLengths: '128' }),
    );
    expect(e.field).toBe('customLengths');

    e = configError(() => parseSequenceRangesOptions({ range: 'custom', customLengths: '128,x' }));
    expect(e.field).toBe('customLengths');

    e = configError(() => parseSequenceRangesOptions({ maxRunSeconds: '-1' }));
    expect(e.field).toBe('maxRunSeconds');

    e = configError(() => parseSequenceRangesOptions({ device: 'tpu' }));
    expect(e.message).toContain('cpu, cuda');

    e = configError(() => parseSequenceRangesOptions({ headDim: 64.5 }));
    expect(e.field).toBe('headDim');

    e = configError(() => parseSequenceRangesOptions({ bachSize: 2 }, { strict: true }));
    expect(e.field).toBe('bachSize');
    expect(e.message).toContain('unknown option');
  });
});

describe('length labels', () => {
  it('keeps the customary names of 49K and 98K', async () => {
    const { nominalLabel } = await import('../../src/config/ranges.js');
    expect(nominalLabel(49152)).toBe('49K');
    expect(nominalLabel(98304)).toBe('98K');
    expect(nominalLabel(1048576)).toBe('1M');
    expect(nominalLabel(50000)).toBe('50000');
    expect(nominalLabel(777)).toBeUndefined();
  });
});
