import { describe, expect, it } from 'vitest';
import { samplingOptionsFromFlags } from '../../src/measure/options.js';

describe('samplingOptionsFromFlags', () => {
  it('parses flags', () => {
    expect(
      samplingOptionsFromFlags({
        warmup: 'adaptive',
        targetRse: '2%',
        maxTime: '5',
        minSamples: '20',
        cold: true,
      }),
    ).toEqual({
      warmup: 'adaptive',
      targetRse: 0.02,
      maxTimeSeconds: 5,
      minSamples: 20,
      cold: true,
    });
    expect(samplingOptionsFromFlags({ warmup: '3', runs: 10 })).toEqual({ warmup: 3, runs: 10 });
    expect(samplingOptionsFromFlags({})).toEqual({});
  });
  it('names the flag on bad values', () => {
    expect(() => samplingOptionsFromFlags({ warmup: 'lots' })).toThrow(/--warmup|warmup/);
    expect(() => samplingOptionsFromFlags({ targetRse: '0' })).toThrow(/targetRse/);
    expect(() => samplingOptionsFromFlags({ maxTime: '-1' })).toThrow(/maxTime/);
    expect(() => samplingOptionsFromFlags({ minSamples: 10, maxSamples: 5 })).toThrow(/maxSamples/);
    try {
      samplingOptionsFromFlags({ runs: '1.5' });
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_DILBENCH_INVALID_CONFIG');
    }
  });
});
