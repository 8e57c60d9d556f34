// Loads the native addon (node-gyp-build from the package root: build/Release, build/Debug, then
// prebuilds/<platform>-<arch>/, or the CUDA variant select-backend.ts chooses) and turns any
// failure into one actionable error. Works from src/native (vitest) and from dist/src/native (the
// built package). It keeps nothing: the Dilbench object (dilbench.ts) holds what was loaded, and
// loader.ts gathers both under the name code has long imported.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeBinding } from './binding.js';
import {
  diagnoseBackend,
  selectionOf,
  type BackendDiagnosis,
  type BackendName,
} from './select-backend.js';

const require = createRequire(import.meta.url);

/** Which binary was loaded (null: node-gyp-build's search), its backend, and why it was chosen. */
export interface LoadedBinary {
  path: string | null;
  backend: BackendName;
  reason: string;
}

/** The package root: the nearest ancestor of this file whose package.json is dilbench's. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name;
        if (name === 'dilbench') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Fall back to the layout: <root>/src/native or <root>/dist/src/native.
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.basename(path.dirname(path.dirname(here))) === 'dist'
    ? path.resolve(here, '../../..')
    : path.resolve(here, '../..');
}

function napiVersion(): string {
  return process.versions.napi ?? 'unknown';
}

function loadError(tried: string[], cause: unknown, reason: string): Error {
  const why = cause instanceof Error ? cause.message.trim() : String(cause);
  const target = `${process.platform}-${process.arch}`;
  const message = [
    'dilbench: could not load the native addon.',
    `Tried (${reason}):`,
    ...tried.map((t) => `  - ${t}`),
    `Cause: ${why.split('\n').join('\n  ')}`,
    `Platform: ${target}, Node ${process.version} (Node-API ${napiVersion()}, ABI ${process.versions.modules})`,
    'To fix it, either:',
    '  - build it from source: install cmake >= 3.18 and a C++17 compiler (e.g. `apt-get install cmake g++`), then run `npm rebuild dilbench`;',
    `  - or install a dilbench package that ships a prebuilt binary for ${target} (prebuilds/${target}/dilbench.node).`,
  ].join('\n');
  const err = new Error(message, { cause }) as Error & { code: string };
  err.code = 'ERR_DILBENCH_UNSUPPORTED';
  return err;
}

/**
 * Loads the native addon (Node caches the module); throws one actionable error when it cannot.
 * `diagnose`: the backend selection to load from (the Dilbench object passes the one it keeps, so
 * the CUDA probe runs once per process).
 */
export function loadAddon(
  diagnose: () => BackendDiagnosis = () => diagnoseBackend(packageRoot()),
): { binding: NativeBinding; binary: LoadedBinary } {
  const root = packageRoot();
  // DILBENCH_ADDON_PATH=/abs/path/dilbench.node loads that binary (e.g. the sanitizer build of
  // `npm run test:sanitize`) instead of the usual selection.
  const override = process.env.DILBENCH_ADDON_PATH;
  // an explicit binary's backend is read from the binary itself once loaded
  const selection: { path: string | null; backend?: BackendName; reason: string } = override
    ? { path: path.resolve(override), reason: 'DILBENCH_ADDON_PATH' }
    : selectionOf(diagnose());
  const tried: string[] = [];
  try {
    let file: string;
    if (selection.path) {
      file = selection.path;
    } else {
      const ngb = require('node-gyp-build') as { path(dir: string): string };
      try {
        file = ngb.path(root);
      } catch (err) {
        tried.push(
          `node-gyp-build in ${root}: build/Release/, build/Debug/, prebuilds/${process.platform}-${process.arch}/`,
        );
        throw err;
      }
    }
    tried.push(file);
    const binding = require(file) as NativeBinding;
    const backend = selection.backend ?? (binding.info().cuda?.compiled ? 'cuda' : 'cpu');
    return { binding, binary: { path: file, backend, reason: selection.reason } };
  } catch (err) {
    throw loadError(tried, err, selection.reason);
  }
}
