// Builds the example and broken C plugins (examples/plugins/) with cmake into a temporary
// directory, once per test file; the working tree is left as it was.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function cmake(args: string[]): string | null {
  const r = spawnSync('cmake', args, { encoding: 'utf8', timeout: 300_000 });
  if (r.error) return `cmake could not run (${r.error.message})`;
  return r.status === 0
    ? null
    : `cmake ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`.slice(-3000);
}

export interface BuiltPlugins {
  dir: string;
  cDense: string;
  broken: (name: string) => string;
}

/** The built libraries, or a reason why they could not be built (the tests skip, printing it). */
export function buildExamplePlugins(): BuiltPlugins | string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dilbench-plugins-'));
  for (const example of ['c-dense', 'broken']) {
    const src = path.join(root, 'examples', 'plugins', example);
    const out = path.join(dir, example);
    const why =
      cmake(['-S', src, '-B', out, '-DCMAKE_BUILD_TYPE=Release']) ?? cmake(['--build', out]);
    if (why) return why;
  }
  return {
    dir,
    cDense: path.join(dir, 'c-dense', 'libdilbench_c_dense.so'),
    broken: (name) => path.join(dir, 'broken', `lib${name}.so`),
  };
}
