#!/usr/bin/env node
// clang-format over the C, C++ and CUDA sources (style: .clang-format), for `npm run lint` and
// `npm run format`:
//   node scripts/clang-format.mjs --check   report unformatted files, exit 1 if any
//   node scripts/clang-format.mjs --fix     rewrite them in place
// The binary comes from the clang-format-node devDependency (it ships prebuilt clang-format
// executables inside its npm tarball, linux-x64 among them); DILBENCH_CLANG_FORMAT=/path/to/binary
// uses another one (a different clang-format version may format some lines differently).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_DIRS = ['native', 'bindings', 'include', join('examples', 'plugins')];
const EXTENSIONS = ['.c', '.cc', '.cpp', '.h', '.hpp', '.cu', '.cuh'];
// Device logs and plugin build trees hold no sources of ours.
const excluded = (rel) =>
  rel.startsWith(join('native', 'cuda', 'tools', 'results') + sep) ||
  rel.split(sep).includes('build');

function usage(message) {
  console.error(`clang-format: ${message}\nusage: node scripts/clang-format.mjs --check | --fix`);
  process.exit(2);
}

async function clangFormatBinary() {
  const override = process.env.DILBENCH_CLANG_FORMAT;
  if (override) return { path: override, from: 'DILBENCH_CLANG_FORMAT' };
  let path;
  try {
    ({ clangFormatPath: path } = await import('clang-format-node'));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    return { missing: `the clang-format-node package did not load (${reason}); run npm ci` };
  }
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return {
      missing: `clang-format-node ships no runnable binary for ${platform()}-${arch()} (looked for ${path})`,
    };
  }
  return { path, from: 'clang-format-node' };
}

function sourceFiles() {
  const files = [];
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !EXTENSIONS.some((ext) => entry.name.endsWith(ext))) continue;
      const rel = relative(ROOT, join(entry.parentPath ?? entry.path, entry.name));
      if (!excluded(rel)) files.push(rel);
    }
  }
  return files.sort();
}

const mode = process.argv[2];
if (process.argv.length !== 3 || (mode !== '--check' && mode !== '--fix'))
  usage('one mode expected');

const binary = await clangFormatBinary();
if (!binary.path) {
  console.error(
    `clang-format: MISSING, C++/CUDA formatting not checked: ${binary.missing}. ` +
      'Set DILBENCH_CLANG_FORMAT=/path/to/clang-format to use another build.',
  );
  process.exit(1);
}
const version = spawnSync(binary.path, ['--version'], { encoding: 'utf8' });
if (version.status !== 0) {
  console.error(
    `clang-format: MISSING, C++/CUDA formatting not checked: ${binary.path} (from ${binary.from}) ` +
      `did not run: ${version.error?.message ?? version.stderr.trim()}`,
  );
  process.exit(1);
}

const files = sourceFiles();
console.log(
  `clang-format: ${mode === '--check' ? 'checking' : 'formatting'} ${files.length} files with ` +
    `${version.stdout.trim()} (from ${binary.from})`,
);
if (mode === '--fix') {
  const run = spawnSync(binary.path, ['-i', ...files], { cwd: ROOT, stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
// One warning per unformatted line would bury the answer: list the files instead.
const run = spawnSync(binary.path, ['--dry-run', '--Werror', ...files], {
  cwd: ROOT,
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
const unformatted = [
  ...new Set(
    [...run.stderr.matchAll(/^(.+?):\d+:\d+: error: code should be clang-formatted/gm)].map(
      (m) => m[1],
    ),
  ),
];
if (run.status === 0) {
  console.log('clang-format: all files formatted');
} else if (unformatted.length > 0) {
  for (const file of unformatted) console.error(`  ${file}`);
  console.error(
    `clang-format: ${unformatted.length} of ${files.length} files not formatted (npm run format rewrites them)`,
  );
} else {
  console.error(run.stderr || run.error?.message || `clang-format exited with ${run.status}`);
}
process.exit(run.status ?? 1);
