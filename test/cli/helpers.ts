// Running the built CLI (bin/dilbench.js -> dist/) from the CLI end-to-end tests.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = join(root, 'bin', 'dilbench.js');
/** Whether dist/ holds the compiled CLI (`npm test` builds it first). */
export const distBuilt = existsSync(join(root, 'dist', 'src', 'cli', 'main.js'));

/** Runs the CLI synchronously in the repository root; env adds to (or blanks) process.env. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: timeoutMs,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs an ES module snippet with node in the repository root (to probe the addon as the CLI loads it). */
export function runModule(source: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
}
