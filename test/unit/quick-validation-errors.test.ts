// quick-validation's error measures: the half-precision max-abs bound applies per unit of output
// magnitude, so rounding a large output to bf16 (a correct kernel) is not called a failure while a
// wrong element still is.
import { describe, expect, it } from 'vitest';
import { errors, scaledMaxAbs, toleranceFor } from '../../src/suites/quick-validation.js';

function bf16Round(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) & 0xffff0000; // round to nearest even
  return f[0]!;
}

describe('quick-validation errors()', () => {
  it('reports max abs, relative L2 and the magnitude-scaled max error', () => {
    const ref = [0.5, -2, 4, 0];
    const out = new Float32Array([0.5, -2.01, 4.04, 0.001]);
    const e = errors(out, ref);
    expect(e.maxAbsError).toBeCloseTo(0.04, 6);
    expect(e.maxScaledError).toBeCloseTo(0.01, 6); // 0.04 / 4, 0.01 / 2 and 0.001 / 1
    const num = 0.01 ** 2 + 0.04 ** 2 + 0.001 ** 2;
    expect(e.relL2Error).toBeCloseTo(Math.sqrt(num / (0.25 + 4 + 16)), 6);
  });

  it('a bf16-rounded output of magnitude 4..8 exceeds the absolute bound but passes the scaled one', () => {
    const ref = [5.03125 + 2 ** -6 - 1e-6, 0.3, -1.7]; // just under the bf16 midpoint after 5.03125 (ulp 2^-5 in [4, 8))
    const out = new Float32Array(ref.map(bf16Round));
    const e = errors(out, ref);
    const tol = toleranceFor('bf16', {});
    expect(scaledMaxAbs('bf16')).toBe(true);
    expect(e.maxAbsError).toBeGreaterThan(tol.maxAbs); // the old absolute check would have failed it
    expect(e.maxScaledError).toBeLessThanOrEqual(tol.maxAbs);
    expect(e.relL2Error).toBeLessThanOrEqual(tol.relL2);
  });

  it('a wrong element still fails the scaled bound; fp32 keeps the absolute bound', () => {
    const e = errors(new Float32Array([5.2, 0.3]), [5, 0.3]);
    expect(e.maxScaledError).toBeGreaterThan(toleranceFor('bf16', {}).maxAbs);
    expect(scaledMaxAbs('fp32')).toBe(false);
    const n = errors(new Float32Array([NaN]), [1]);
    expect(n.maxAbsError).toBe(Infinity);
    expect(n.maxScaledError).toBe(Infinity);
  });
});
