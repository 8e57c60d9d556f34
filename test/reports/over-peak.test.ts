// A % of peak over 100% is never shown bare (issue 4's rule): the answer tables of report.md and
// report.html carry the roofline's reason beside it, as the "every point" tables already do.
import { describe, expect, it } from 'vitest';
import { answerMarkdown } from '../../src/reports/answer.js';
import { renderAnswer } from '../../src/reports/html/index.js';
import { rankFile } from '../../src/results/ranking.js';
import type { ResultFile, RooflinePoint } from '../../src/results/types.js';
import { loadFixture } from './helpers.js';

const NOTE = 'the cache fits in L3 (480 MiB), so stream bandwidth is not its limit';

/** The fixture with the leader of the first ranked length put on the roofline at `pct` % of peak. */
function withLeaderAt(pct: number): { file: ResultFile; seqLen: number } {
  const file = structuredClone(loadFixture('sequence-ranges_2026-11-20'));
  const first = rankFile(file).find((r) => r.leaders.length > 0)!;
  const leader = file.results.find(
    (r) => r.implementation === first.leaders[0]!.row.implementation && r.seqLen === first.seqLen,
  )!;
  leader.roofline = { pctOfPeakCompute: pct, overPeakNote: NOTE } as RooflinePoint;
  return { file, seqLen: first.seqLen };
}

describe('answer tables over 100% of peak', () => {
  it('HTML gives the reason and Markdown points to it', () => {
    const { file, seqLen } = withLeaderAt(104.2);
    const html = renderAnswer({ ranking: rankFile(file), environment: file.environment });
    const row = html.split('\n').find((l) => l.includes(`data-len="${seqLen}"`))!;
    expect(row).toContain(`104.2%: ${NOTE}`);
    const md = answerMarkdown(file).join('\n');
    expect(md).toContain('104.2% over peak, see note');
  });

  it('under 100% the figure stands alone even when a note exists', () => {
    const { file, seqLen } = withLeaderAt(72.5);
    const html = renderAnswer({ ranking: rankFile(file), environment: file.environment });
    const row = html.split('\n').find((l) => l.includes(`data-len="${seqLen}"`))!;
    expect(row).toContain('>72.5%</td>');
    expect(row).not.toContain(NOTE);
    expect(answerMarkdown(file).join('\n')).not.toContain('over peak');
  });
});
