// The definitions every result depends on ship in the repository (docs/) and stay in step with
// the team's copy in ../shared/docs when that is beside the checkout; the README points there.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ours = join(root, 'docs', 'attention-definitions.md');
const shared = resolve(root, '..', 'shared', 'docs', 'attention-definitions.md');

describe('docs/attention-definitions.md', () => {
  it('is in the repository and the README points at it, not outside the checkout', () => {
    expect(readFileSync(ours, 'utf8')).toMatch(/## kv-cache \(decoding\)/);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('docs/attention-definitions.md');
    expect(readme).not.toContain('../shared/docs');
  });

  it('matches ../shared/docs/attention-definitions.md', () => {
    if (!existsSync(shared)) {
      console.log(`skipped: ${shared} is not beside this checkout`);
      return;
    }
    expect(readFileSync(ours, 'utf8')).toBe(readFileSync(shared, 'utf8'));
  });
});
