// Beside the answer, a caution when points were measured under contention or drift (issue 14):
// a ranking of flagged points may reflect the machine rather than the kernels.
import { describe, expect, it } from 'vitest';
import { answerMarkdown, contentionCaution } from '../../src/reports/answer.js';
import { loadFixture } from './helpers.js';

describe('answer caution', () => {
  it('says how many points were flagged and why; nothing when none was', () => {
    const file = loadFixture('sequence-ranges_2026-11-20');
    expect(contentionCaution(file)).toBeNull();
    expect(answerMarkdown(file).join('\n')).not.toContain('Caution');
    const flagged = structuredClone(file);
    flagged.results[0]!.interference = { flagged: true } as never;
    flagged.interference = { flaggedPoints: 1 } as never;
    const c = contentionCaution(flagged);
    expect(c).toMatch(
      new RegExp(
        `^1 of ${file.results.length} points are flagged \\(other processes loaded the machine while 1 of them ran\\)`,
      ),
    );
    expect(answerMarkdown(flagged).join('\n')).toContain(`**Caution:** ${c}`);
    flagged.driftSentinel = { flaggedPoints: 18 } as never;
    expect(contentionCaution(flagged)).toContain(
      "while 1 of them ran; the machine's speed moved, by the drift sentinel, next to 18 of them)",
    );
  });
});
