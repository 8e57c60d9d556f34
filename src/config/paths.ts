// Locating the package root (works from src/ under vitest and from dist/src once built).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        const name = (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name;
        if (name === 'dilbench') return (cachedRoot = dir);
      } catch {
        /* keep walking */
      }
    }
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('dilbench: cannot find the package root (package.json)');
    dir = parent;
  }
}

export function packageVersion(): string {
  const pj = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return pj.version;
}

export function configPath(name: string): string {
  return join(packageRoot(), 'configs', name);
}
