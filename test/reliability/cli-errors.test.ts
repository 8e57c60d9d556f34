// Bad input never crashes, always explains (issue 8): the CLI names the flag, the value and what
// is allowed, exits 2 without a stack trace; --verbose adds the stack.
import { describe, expect, it } from 'vitest';
import { CLI_READY, runCli, tempDir } from './helpers.js';

const STACK = /\n\s+at .+:\d+:\d+/;

describe.skipIf(!CLI_READY)('CLI bad input', () => {
  const dir = tempDir('badinput');
  const base = [
    'sequence-ranges',
    '--range',
    'custom',
    '--custom-lengths',
    '64',
    '--no-plots',
    '--output-dir',
    dir,
  ];
  const cases: [string[], RegExp][] = [
    [['--runs', '-3'], /--runs.*-3/],
    [['--runs', 'abc'], /--runs.*abc/],
    [['--range', 'nope'], /--range.*nope.*production/],
    [['--memory-budget', 'lots'], /--memory-budget.*lots/],
    [['--implementations', 'bogus'], /--implementations.*bogus/],
    [['--head-dim', '-1'], /--head-dim/],
    [['--batch-size', 'NaN'], /--batch-size/],
    [['--heads', '1e400'], /--heads/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')}: exit 2, names the flag, no stack trace`, async () => {
      const r = await runCli([...base, ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(STACK);
    });
  }

  it('an unknown option: exit 2', async () => {
    const r = await runCli([...base, '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('--verbose shows the stack trace', async () => {
    const r = await runCli([...base, '--runs', '-3', '--verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(STACK);
  });
});
