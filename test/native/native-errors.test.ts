// Every bad input gets its coded error, and the process lives on.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';

import { ErrorCodes, type NativeBinding, type NativeProblem } from '../../src/native/binding.js';
import { loadBinding, tryLoadBinding } from '../../src/native/dilbench.js';
import { baseOptions, baseProblem, catchAsync, catchSync, expectCoded } from './helpers.js';

const binding: NativeBinding = loadBinding();
const INVALID = ErrorCodes.INVALID_CONFIG;

type Bad = [
  field: string,
  value: unknown,
  kind: 'TypeError' | 'RangeError' | 'Error',
  expectField?: string,
];

const badProblemFields: Bad[] = [
  ['implementation', 5, 'TypeError'],
  ['implementation', '', 'RangeError'],
  ['device', 'tpu', 'RangeError'],
  ['device', 0, 'TypeError'],
  ['dtype', 'fp64', 'RangeError'],
  ['dtype', null, 'TypeError'],
  ['batch', 0, 'RangeError'],
  ['batch', -1, 'RangeError'],
  ['batch', 1.5, 'RangeError'],
  ['batch', Number.NaN, 'RangeError'],
  ['batch', Number.POSITIVE_INFINITY, 'RangeError'],
  ['batch', '2', 'TypeError'],
  ['batch', undefined, 'TypeError'],
  ['heads', 0, 'RangeError'],
  ['heads', -8, 'RangeError'],
  ['kvHeads', 0, 'RangeError'],
  ['kvHeads', 2.5, 'RangeError'],
  ['seqLen', 0, 'RangeError'],
  ['seqLen', -100, 'RangeError'],
  ['seqLen', Number.NaN, 'RangeError'],
  ['seqLen', 2 ** 60, 'RangeError'],
  ['headDim', 0, 'RangeError'],
  ['headDim', 257, 'RangeError'],
  ['headDim', 1024, 'RangeError'],
  ['causal', 'yes', 'TypeError'],
  ['causal', 1, 'TypeError'],
  ['scale', Number.NaN, 'RangeError'],
  ['scale', Number.NEGATIVE_INFINITY, 'RangeError'],
  ['scale', '0.1', 'TypeError'],
  ['seed', -1, 'RangeError'],
  ['seed', 0.5, 'RangeError'],
  ['segmentLengths', 'x', 'TypeError'],
  ['segmentLengths', [0], 'RangeError', 'segmentLengths[0]'],
  ['dilationRates', [1, 2.5], 'RangeError', 'dilationRates[1]'],
  ['ringSize', 0, 'RangeError'],
  ['blockPattern', 'diagonal', 'RangeError'],
  ['blockSize', -64, 'RangeError'],
  ['density', 0, 'RangeError'],
  ['density', 1.5, 'RangeError'],
  ['density', Number.NaN, 'RangeError'],
  ['promptLen', -1, 'RangeError'],
  ['newTokens', 0.5, 'RangeError'],
];

const badOptionFields: Bad[] = [
  ['threads', 0, 'RangeError'],
  ['threads', -2, 'RangeError'],
  ['threads', 1.5, 'RangeError'],
  ['threads', 100000, 'RangeError'],
  ['threads', Number.NaN, 'RangeError'],
  ['threads', '1', 'TypeError'],
  ['useMemoryPool', 1, 'TypeError'],
  ['usePatternCache', 'true', 'TypeError'],
  ['memoryLimitBytes', -1, 'RangeError'],
  ['memoryLimitBytes', Number.POSITIVE_INFINITY, 'RangeError'],
];

function withField(obj: object, field: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...obj };
  if (value === undefined) delete copy[field];
  else copy[field] = value;
  return copy;
}

describe('argument errors carry what is allowed', () => {
  it('names the field and what it accepts as properties, not only in the message', () => {
    const e = catchSync(() => binding.plan({ ...baseProblem, headDim: 0 }, baseOptions)) as {
      code?: string;
      field?: string;
      allowed?: string;
      message: string;
    };
    expect(e.code).toBe(ErrorCodes.INVALID_CONFIG);
    expect(e.field).toBe('headDim');
    expect(typeof e.allowed).toBe('string');
    expect(e.allowed!.length).toBeGreaterThan(0);
    expect(e.message).toContain(e.allowed!);
  });
});

describe('loader', () => {
  it('loads one cached instance exposing the NativeBinding interface', () => {
    expect(tryLoadBinding()).toBe(binding);
    for (const name of [
      'info',
      'listImplementations',
      'plan',
      'createSession',
      'compute',
      'reference',
      'measurePeak',
      'setSimdLevel',
      'CancelToken',
    ]) {
      expect(typeof (binding as unknown as Record<string, unknown>)[name], name).toBe('function');
    }
    const info = binding.info();
    expect(info.hardwareThreads).toBeGreaterThanOrEqual(1);
    expect(['generic', 'avx2', 'avx512']).toContain(info.simdLevel);
    expect(typeof info.cuda.compiled).toBe('boolean');
    const names = binding.listImplementations().map((i) => i.name);
    expect(names).toContain('naive');
    expect(names).toContain('flash');
  });
});

describe('loader failure', () => {
  it('throws one actionable error when no binary can be found', async () => {
    vi.stubEnv('DILBENCH_PREBUILD', '/nonexistent/dilbench-prebuild'); // node-gyp-build looks only there
    vi.stubEnv('DILBENCH_ADDON_PATH', ''); // no explicit binary
    vi.stubEnv('DILBENCH_BACKEND', 'cpu'); // no CUDA variant
    vi.resetModules();
    try {
      const fresh = await import('../../src/native/dilbench.js');
      expect(fresh.tryLoadBinding()).toBeNull();
      const err = catchSync(() => fresh.loadBinding());
      expect(err.code).toBe(ErrorCodes.UNSUPPORTED);
      expect(err.message).toContain('npm rebuild dilbench');
      expect(err.message).toContain(`${process.platform}-${process.arch}`);
      expect(err.message).toContain(process.version);
      expect(err.message).toMatch(/Tried/);
      expect(catchSync(() => fresh.loadBinding())).toBe(err); // cached, not retried
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});

describe('invalid problems', () => {
  it.each(badProblemFields)('plan(): %s = %o -> %s', (field, value, kind, expectField) => {
    const err = catchSync(() =>
      binding.plan(withField(baseProblem, field, value) as unknown as NativeProblem, baseOptions),
    );
    expectCoded(err, INVALID, expectField ?? field);
    expect(err.name).toBe(kind);
  });

  it.each(badProblemFields.slice(0, 12))(
    'createSession() rejects (never throws): %s = %o',
    async (field, value, _kind, expectField) => {
      const p = binding.createSession(
        withField(baseProblem, field, value) as unknown as NativeProblem,
        baseOptions,
      );
      expect(p).toBeInstanceOf(Promise);
      expectCoded(await catchAsync(p), INVALID, expectField ?? field);
    },
  );

  it.each([null, undefined, 5, 'naive', [], () => 1])(
    'a non-object problem (%o) is a TypeError',
    (value) => {
      const err = catchSync(() => binding.plan(value as unknown as NativeProblem, baseOptions));
      expectCoded(err, INVALID, 'problem');
      expect(err.name).toBe('TypeError');
    },
  );

  it('heads not a multiple of kvHeads names kvHeads', () => {
    expectCoded(
      catchSync(() => binding.plan({ ...baseProblem, heads: 6, kvHeads: 4 }, baseOptions)),
      INVALID,
      'kvHeads',
    );
  });

  it('an unsupported headDim names the field and the allowed range', () => {
    const err = catchSync(() => binding.plan({ ...baseProblem, headDim: 300 }, baseOptions));
    expectCoded(err, INVALID, 'headDim');
    expect(err.name).toBe('RangeError');
    expect(err.message).toMatch(/1\.\.256/);
  });

  it('sizes that overflow 64-bit byte counts are InvalidConfig, not a crash', () => {
    const err = catchSync(() =>
      binding.plan(
        {
          ...baseProblem,
          batch: 2 ** 40,
          heads: 2 ** 10,
          kvHeads: 2 ** 10,
          seqLen: 2 ** 20,
          headDim: 256,
        },
        baseOptions,
      ),
    );
    expect(err.code).toBe(INVALID);
    expect(['heads', 'seqLen', 'headDim', 'kvHeads']).toContain(err.field);
  });

  it('an unknown implementation lists the known ones', async () => {
    const err = catchSync(() =>
      binding.plan({ ...baseProblem, implementation: 'quantum' }, baseOptions),
    );
    expectCoded(err, INVALID, 'implementation');
    expect(err.message).toContain('quantum');
    expect(err.message).toContain('naive');
    expect(err.message).toContain('flash');
    const kv = new Float32Array(16 * 32);
    const e2 = await catchAsync(
      binding.reference(
        { ...baseProblem, implementation: 'quantum' },
        new Float32Array(2 * 16 * 32),
        kv,
        kv,
      ),
    );
    expectCoded(e2, INVALID, 'implementation');
  });

  it('fp16 on a CPU kernel without half storage is Unsupported', async () => {
    // flash, naive and kv-cache store fp16 / bf16 (test/native/native-half.test.ts); dilated does not
    const p = {
      ...baseProblem,
      implementation: 'dilated',
      dtype: 'fp16' as const,
      segmentLengths: [8],
      dilationRates: [1],
    };
    const err = await catchAsync(binding.createSession(p, baseOptions));
    expect([ErrorCodes.UNSUPPORTED, INVALID]).toContain(err.code);
    expect(err.field).toBe('dtype');
  });

  it('cuda without a CUDA device is Unsupported', async () => {
    if (binding.info().cuda.deviceCount > 0) return;
    const err = await catchAsync(
      binding.createSession({ ...baseProblem, device: 'cuda' }, baseOptions),
    );
    expect(err.code).toBe(ErrorCodes.UNSUPPORTED);
    expect(err.field).toBe('device');
  });
});

describe('invalid options', () => {
  it.each(badOptionFields)('plan(): %s = %o -> %s', (field, value, kind) => {
    const err = catchSync(() =>
      binding.plan(baseProblem, withField(baseOptions, field, value) as never),
    );
    expectCoded(err, INVALID, field);
    expect(err.name).toBe(kind);
  });

  it('a missing options object is a TypeError', () => {
    expectCoded(
      catchSync(() => binding.plan(baseProblem, undefined as never)),
      INVALID,
      'options',
    );
  });
});

describe('buffers', () => {
  const qn = baseProblem.batch * baseProblem.heads * baseProblem.seqLen * baseProblem.headDim;
  const kvn = baseProblem.batch * baseProblem.kvHeads * baseProblem.seqLen * baseProblem.headDim;
  const q = new Float32Array(qn);
  const k = new Float32Array(kvn);
  const v = new Float32Array(kvn);

  it.each([
    ['q', () => [new Float64Array(qn), k, v], 'TypeError'],
    ['q', () => [Array.from(q), k, v], 'TypeError'],
    ['k', () => [q, new Uint8Array(kvn * 4), v], 'TypeError'],
    ['v', () => [q, k, null], 'TypeError'],
    ['q', () => [new Float32Array(qn - 1), k, v], 'RangeError'],
    ['k', () => [q, new Float32Array(kvn + 1), v], 'RangeError'],
    ['v', () => [q, k, new Float32Array(0)], 'RangeError'],
    ['q', () => [new Float32Array(new SharedArrayBuffer(qn * 4)), k, v], 'RangeError'],
    [
      'k',
      () => {
        const buf = new ArrayBuffer(kvn * 4);
        const view = new Float32Array(buf);
        structuredClone(buf, { transfer: [buf] }); // detaches buf
        return [q, view, v];
      },
      'RangeError',
    ],
  ] as const)('compute() and reference() reject a bad %s (%#)', async (field, make, kind) => {
    const [a, b, c] = make() as unknown as [Float32Array, Float32Array, Float32Array];
    const e1 = await catchAsync(binding.compute(baseProblem, baseOptions, a, b, c));
    expectCoded(e1, INVALID, field);
    expect(e1.name).toBe(kind);
    const e2 = await catchAsync(binding.reference(baseProblem, a, b, c));
    expectCoded(e2, INVALID, field);
  });

  it('a foreign cancel argument is a TypeError', async () => {
    const fake = { cancel() {}, cancelled: false };
    const err = await catchAsync(binding.compute(baseProblem, baseOptions, q, k, v, fake));
    expectCoded(err, INVALID, 'cancel');
    expect(err.name).toBe('TypeError');
  });
});

describe('sessions', () => {
  it('sample/output/input validate their arguments', async () => {
    const s = await binding.createSession(baseProblem, baseOptions);
    for (const [it, cold] of [
      [0, false],
      [-1, false],
      [1.5, false],
      [Number.NaN, false],
      ['3', false],
      [1, 'no'],
    ] as const) {
      expectCoded(await catchAsync(s.sample(it as number, cold as boolean)), INVALID);
    }
    expectCoded(
      catchSync(() => s.input('x' as never)),
      INVALID,
      'which',
    );
    expectCoded(
      catchSync(() => s.input(1 as never)),
      INVALID,
      'which',
    );
    expectCoded(await catchAsync(s.output({} as never)), INVALID, 'cancel');
    s.dispose();
  });

  it('a second async call on a busy session rejects with session busy', async () => {
    const s = await binding.createSession({ ...baseProblem, seqLen: 256 }, baseOptions);
    const first = s.sample(20, false);
    const err = await catchAsync(s.sample(1, false));
    expectCoded(err, INVALID, 'session');
    expect(err.message).toMatch(/busy/);
    expect(err.name).toBe('Error');
    expectCoded(await catchAsync(s.output()), INVALID, 'session');
    expect((await first).length).toBe(20);
    expect((await s.sample(1, false)).length).toBe(1); // free again
    s.dispose();
  });

  it('a disposed session rejects further calls (dispose while busy is safe)', async () => {
    const s = await binding.createSession({ ...baseProblem, seqLen: 128 }, baseOptions);
    const pending = s.sample(5, false);
    s.dispose();
    s.dispose(); // idempotent
    expect((await pending).length).toBe(5);
    expectCoded(await catchAsync(s.sample(1, false)), INVALID, 'session');
    expectCoded(await catchAsync(s.output()), INVALID, 'session');
    expectCoded(
      catchSync(() => s.input('q')),
      INVALID,
      'session',
    );
    expectCoded(
      catchSync(() => s.poolStats()),
      INVALID,
      'session',
    );
    expect(s.plan.totalBytes).toBeGreaterThan(0); // the plan stays readable
  });

  it('NativeSession cannot be constructed from JS', async () => {
    const s = await binding.createSession(baseProblem, baseOptions);
    const Ctor = (s as unknown as { constructor: new (...a: unknown[]) => unknown }).constructor;
    expectCoded(
      catchSync(() => new Ctor()),
      INVALID,
      'session',
    );
    expectCoded(
      catchSync(() => new Ctor({})),
      INVALID,
      'session',
    );
    s.dispose();
  });
});

describe('cancellation', () => {
  it('CancelToken flips once cancelled', () => {
    const t = new binding.CancelToken();
    expect(t.cancelled).toBe(false);
    t.cancel();
    t.cancel();
    expect(t.cancelled).toBe(true);
  });

  it('a cancelled token rejects sample, output, compute and reference with ERR_DILBENCH_CANCELLED', async () => {
    const t = new binding.CancelToken();
    t.cancel();
    const s = await binding.createSession(baseProblem, baseOptions);
    expectCoded(await catchAsync(s.sample(3, false, t)), ErrorCodes.CANCELLED);
    expectCoded(await catchAsync(s.output(t)), ErrorCodes.CANCELLED);
    const q = s.input('q');
    const k = s.input('k');
    const v = s.input('v');
    expectCoded(
      await catchAsync(binding.compute(baseProblem, baseOptions, q, k, v, t)),
      ErrorCodes.CANCELLED,
    );
    expectCoded(await catchAsync(binding.reference(baseProblem, q, k, v, t)), ErrorCodes.CANCELLED);
    // the session is usable again afterwards
    expect((await s.sample(2, false)).length).toBe(2);
    s.dispose();
  });

  it('cancelling during a long sample stops it early', async () => {
    const s = await binding.createSession(
      { ...baseProblem, seqLen: 512, heads: 4, kvHeads: 4, headDim: 64 },
      baseOptions,
    );
    const t = new binding.CancelToken();
    const started = Date.now();
    const p = s.sample(100000, false, t);
    setTimeout(() => t.cancel(), 50);
    expectCoded(await catchAsync(p), ErrorCodes.CANCELLED);
    expect(Date.now() - started).toBeLessThan(10000);
    s.dispose();
  });
});

describe('memory limits', () => {
  it('a tiny memoryLimitBytes gives OUT_OF_MEMORY, before anything runs', async () => {
    const opts = { ...baseOptions, memoryLimitBytes: 1024 };
    const err = await catchAsync(binding.createSession(baseProblem, opts));
    expectCoded(err, ErrorCodes.OUT_OF_MEMORY, 'memoryLimitBytes');
    const q = new Float32Array(2 * 16 * 32);
    const kv = new Float32Array(16 * 32);
    expectCoded(
      await catchAsync(binding.compute(baseProblem, opts, q, kv, kv)),
      ErrorCodes.OUT_OF_MEMORY,
    );
  });

  it('a problem larger than the machine gives OUT_OF_MEMORY instead of being killed', async () => {
    const huge = {
      ...baseProblem,
      batch: 64,
      heads: 64,
      kvHeads: 64,
      seqLen: 1 << 20,
      headDim: 256,
    };
    const err = await catchAsync(binding.createSession(huge, baseOptions));
    expect(err.code).toBe(ErrorCodes.OUT_OF_MEMORY);
  });
});

describe('misc entry points', () => {
  it('measurePeak and setSimdLevel validate their arguments', async () => {
    expectCoded(await catchAsync(binding.measurePeak(0, 0.1)), INVALID, 'threads');
    expectCoded(await catchAsync(binding.measurePeak(1, Number.NaN)), INVALID, 'durationSeconds');
    expectCoded(await catchAsync(binding.measurePeak(1, 0)), INVALID, 'durationSeconds');
    expectCoded(await catchAsync(binding.measurePeak(1, 1e9)), INVALID, 'durationSeconds');
    const e = catchSync(() => binding.setSimdLevel('sse4' as never));
    expectCoded(e, INVALID, 'level');
    expect(e.name).toBe('RangeError');
  });

  it('the process is alive and computing after all of the above', async () => {
    const s = await binding.createSession(baseProblem, baseOptions);
    const out = await s.output();
    expect(out.length).toBe(2 * 16 * 32);
    expect(out.every(Number.isFinite)).toBe(true);
    s.dispose();
  });
});

describe('robustness', () => {
  const anyValue = fc.oneof(
    fc.integer({ min: -5, max: 300 }),
    fc.double(),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 53, 2 ** 31, 1e300),
    fc.string({ maxLength: 8 }),
    fc.boolean(),
    fc.constantFrom(null, undefined, [], {}, [1, 2], new Float32Array(2)),
  );
  const fields = [
    'implementation',
    'device',
    'dtype',
    'batch',
    'heads',
    'kvHeads',
    'seqLen',
    'headDim',
    'causal',
    'scale',
    'seed',
    'segmentLengths',
    'dilationRates',
    'ringSize',
    'blockPattern',
    'blockSize',
    'window',
    'stride',
    'density',
    'promptLen',
    'newTokens',
  ];

  it('plan() on random field values either works or throws a coded error', () => {
    const codes = new Set(Object.values(ErrorCodes) as string[]);
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        anyValue,
        fc.constantFrom('naive', 'flash', 'dilated', 'ring', 'block-sparse', 'kv-cache'),
        (field, value, impl) => {
          const problem = withField({ ...baseProblem, implementation: impl }, field, value);
          try {
            const plan = binding.plan(problem as unknown as NativeProblem, baseOptions);
            expect(plan.totalBytes).toBeGreaterThan(0);
          } catch (e) {
            const err = e as { code?: string; field?: string };
            expect(codes.has(err.code ?? ''), String(e)).toBe(true);
          }
        },
      ),
      { numRuns: 400, seed: 42 },
    );
  });

  it('concurrent sessions on the shared thread pool all settle', async () => {
    const threads = Math.min(2, binding.info().hardwareThreads);
    const sessions = await Promise.all(
      ['naive', 'flash', 'naive', 'flash'].map((implementation, i) =>
        binding.createSession(
          { ...baseProblem, implementation, seqLen: 64 + 32 * i },
          { ...baseOptions, threads },
        ),
      ),
    );
    const results = await Promise.all(sessions.map((s) => s.sample(5, false)));
    for (const r of results) expect(r.length).toBe(5);
    const outs = await Promise.all(sessions.map((s) => s.output()));
    for (const o of outs) expect(o.every(Number.isFinite)).toBe(true);
    for (const s of sessions) s.dispose();
  });

  it('cold samples flush the cache outside the timed region and still time every iteration', async () => {
    const s = await binding.createSession(baseProblem, baseOptions);
    const ns = await s.sample(3, true);
    expect(ns.length).toBe(3);
    for (const t of ns) expect(t).toBeGreaterThan(0);
    s.dispose();
  });
});
