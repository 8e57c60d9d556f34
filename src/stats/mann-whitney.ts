// Two-sided Mann-Whitney U test (Wilcoxon rank-sum). The rank sum comes from simple-statistics;
// the p-value is exact for small samples without ties, otherwise the normal approximation with
// tie correction and continuity correction.
import { wilcoxonRankSum } from 'simple-statistics';
import { normalTwoSidedP } from './distributions.js';

export interface MannWhitneyResult {
  /** U statistic of the first sample: number of pairs (x, y) with x > y, ties counting 1/2 */
  u: number;
  /** U of the second sample (n1 * n2 - u) */
  uOther: number;
  /** z statistic of the normal approximation (with continuity correction); 0 for exact */
  z: number;
  /** two-sided p-value */
  p: number;
  method: 'exact' | 'normal';
  /** probability of superiority: P(X > Y) + P(X = Y) / 2 = u / (n1 n2) */
  effectSize: number;
}

/** largest n1 * n2 handled with the exact null distribution (no ties) */
export const EXACT_LIMIT = 400;

// counts[u] of arrangements with U = u for sizes (m, n); returns probabilities
function exactUDistribution(m: number, n: number): Float64Array {
  // f[i][j][u] via the recurrence f(i,j,u) = f(i-1,j,u-j) + f(i,j-1,u); keep as probabilities
  // with p(i,j,u) = i/(i+j) p(i-1,j,u-j) + j/(i+j) p(i,j-1,u).
  const maxU = m * n;
  let prev: Float64Array[] = [];
  for (let j = 0; j <= n; j++) {
    const row = new Float64Array(maxU + 1);
    row[0] = 1; // i = 0: U is always 0
    prev.push(row);
  }
  for (let i = 1; i <= m; i++) {
    const cur: Float64Array[] = [];
    const first = new Float64Array(maxU + 1);
    first[0] = 1; // j = 0
    cur.push(first);
    for (let j = 1; j <= n; j++) {
      const row = new Float64Array(maxU + 1);
      const a = i / (i + j);
      const b = j / (i + j);
      const left = prev[j] as Float64Array; // (i-1, j)
      const down = cur[j - 1] as Float64Array; // (i, j-1)
      for (let u = 0; u <= i * j; u++) {
        row[u] = (u >= j ? a * (left[u - j] as number) : 0) + b * (down[u] as number);
      }
      cur.push(row);
    }
    prev = cur;
  }
  return prev[n] as Float64Array;
}

export function mannWhitneyU(x: ArrayLike<number>, y: ArrayLike<number>): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0)
    throw new RangeError('mannWhitneyU: both samples need at least one value');
  const xs = Array.from(x);
  const ys = Array.from(y);
  const r1 = wilcoxonRankSum(xs, ys);
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const uOther = n1 * n2 - u;
  const effectSize = u / (n1 * n2);

  // tie groups of the pooled sample
  const pooled = Float64Array.from([...xs, ...ys]).sort();
  const nn = n1 + n2;
  let tieTerm = 0;
  let hasTies = false;
  for (let i = 0; i < nn;) {
    let j = i + 1;
    while (j < nn && pooled[j] === pooled[i]) j++;
    const t = j - i;
    if (t > 1) {
      hasTies = true;
      tieTerm += t * t * t - t;
    }
    i = j;
  }

  if (!hasTies && n1 * n2 <= EXACT_LIMIT) {
    const dist = exactUDistribution(n1, n2);
    const uMin = Math.min(u, uOther);
    let tail = 0;
    for (let k = 0; k <= Math.floor(uMin + 1e-9); k++) tail += dist[k] as number;
    return { u, uOther, z: 0, p: Math.min(1, 2 * tail), method: 'exact', effectSize };
  }

  const meanU = (n1 * n2) / 2;
  const varU = ((n1 * n2) / 12) * (nn + 1 - tieTerm / (nn * (nn - 1)));
  if (!(varU > 0)) {
    // every value tied: no evidence of a difference
    return { u, uOther, z: 0, p: 1, method: 'normal', effectSize };
  }
  const diff = u - meanU;
  const corrected = Math.sign(diff) * Math.max(0, Math.abs(diff) - 0.5);
  const z = corrected / Math.sqrt(varU);
  return { u, uOther, z, p: normalTwoSidedP(z), method: 'normal', effectSize };
}
