// The import graph of src/ has no cycle and no upstream edge (the layers in .dependency-cruiser.cjs),
// checked with dependency-cruiser exactly as `npm run lint:deps` runs it; and the rules do catch
// a cycle, an upstream import and an import out of src/ in a small tree made for the purpose.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

/** dependency-cruiser's JSON report of `dirs` under `cwd` with the repository's rules. */
function cruise(cwd: string, dirs: string[]): { violations: Violation[]; modules: number } {
  let out: string;
  try {
    out = execFileSync(
      process.execPath,
      [
        DEPCRUISE,
        ...dirs,
        '--config',
        join(cwd, '.dependency-cruiser.cjs'),
        '--output-type',
        'json',
      ],
      {
        cwd,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  } catch (e) {
    // exit code = number of errors; the JSON is still on stdout
    out = (e as { stdout?: string }).stdout ?? '';
    if (!out) throw e;
  }
  const report = JSON.parse(out) as { summary: { violations: Violation[]; totalCruised: number } };
  return { violations: report.summary.violations, modules: report.summary.totalCruised };
}

const describeViolation = (v: Violation) =>
  `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`;

describe('import graph of src/', () => {
  it('has no cycle, no upstream import and no import out of src/', { timeout: 120_000 }, () => {
    const { violations, modules } = cruise(ROOT, ['src']);
    expect(modules).toBeGreaterThan(100);
    expect(violations.map(describeViolation)).toEqual([]);
  });
});

describe('the layer rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dilbench-layers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  it(
    'flag a cycle, an upstream import, an import of the CLI and one out of src/',
    { timeout: 120_000 },
    () => {
      copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
      file(
        'tsconfig.json',
        JSON.stringify({
          compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
          include: ['src', 'benchmarks'],
        }),
      );
      file('package.json', JSON.stringify({ name: 'layers-fixture', type: 'module' }));
      // results -> reports: upstream (the report writers belong above the store)
      file(
        'src/results/store.ts',
        "import { toJson } from '../reports/json.js';\nexport const store = toJson;\n",
      );
      file(
        'src/reports/json.ts',
        "import type { Row } from '../results/types.js';\nexport const toJson = (r: Row) => JSON.stringify(r);\n",
      );
      // the schema leaf importing anything, and a cycle through it
      file(
        'src/results/types.ts',
        "import type { Side } from '../suite/sides.js';\nexport interface Row { side: Side }\n",
      );
      file(
        'src/suite/sides.ts',
        "import type { Row } from '../results/types.js';\nexport type Side = Row['side'] | 'cpu';\n",
      );
      // out of src/, and into the CLI from below
      file(
        'src/api/suites.ts',
        "import { suite } from '../../benchmarks/suite.js';\nimport { table } from '../cli/summary.js';\nexport const s = [suite, table];\n",
      );
      file('src/cli/summary.ts', 'export const table = 1;\n');
      file('benchmarks/suite.ts', 'export const suite = 1;\n');

      const rules = cruise(dir, ['src', 'benchmarks']).violations.map(describeViolation);
      expect(rules).toContain('upstream-from-results: src/results/store.ts -> src/reports/json.ts');
      expect(rules).toContain('schema-imports-nothing: src/results/types.ts -> src/suite/sides.ts');
      expect(rules).toContain('upstream-from-schema: src/results/types.ts -> src/suite/sides.ts');
      expect(
        rules.some(
          (r) =>
            r.startsWith('no-circular: ') &&
            r.includes('src/results/types.ts') &&
            r.includes('src/suite/sides.ts'),
        ),
      ).toBe(true);
      expect(rules).toContain('src-imports-outside-src: src/api/suites.ts -> benchmarks/suite.ts');
      expect(rules).toContain('cli-imported: src/api/suites.ts -> src/cli/summary.ts');
    },
  );
});
