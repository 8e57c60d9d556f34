// Loading C ABI plugins: a probe in a child process first (a plugin whose initialisation crashes
// costs an error naming it, not the dilbench process), then the same library in this process so
// listImplementations(), plan() and reference() know its kernels. Kernels only ever run in the
// plugin worker (worker.ts).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { NativeBinding } from '../native/binding.js';
import { ConfigError } from '../config/errors.js';
import { PluginWorker } from './worker.js';
import type { PluginRecord } from './types.js';

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A `file.py:function` or `package.module:function` spec (Python); anything else is a library path. */
export function isPythonSpec(spec: string): boolean {
  const m = /^(.*):([A-Za-z_][A-Za-z0-9_]*)$/.exec(spec);
  const target = m?.[1];
  if (target === undefined) return false;
  return (
    target.endsWith('.py') || /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(target)
  );
}

function pluginError(spec: string, why: string): ConfigError {
  return new ConfigError(
    'plugin',
    spec,
    'a C ABI shared library built against include/dilbench_plugin.h',
    why,
  );
}

/** Resolves and checks a library spec: the absolute path, or a ConfigError naming what is wrong. */
export function resolveLibrary(spec: string): string {
  const abs = path.resolve(spec);
  if (!existsSync(abs)) throw pluginError(spec, `plugin '${spec}': file not found (${abs})`);
  if (!statSync(abs).isFile()) throw pluginError(spec, `plugin '${spec}': not a regular file`);
  return realpathSync(abs);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Loads C ABI plugin libraries (each once, by real path) into `binding` after a child process
 * loaded each without crashing. Throws a ConfigError (field `plugin`, CLI exit 2) naming the plugin
 * and what is wrong: file missing, not a shared library, missing entry symbol, ABI too new,
 * duplicate kernel names, a crash while loading.
 */
export async function loadCPlugins(
  specs: string[],
  binding: NativeBinding,
): Promise<PluginRecord[]> {
  const [first] = specs;
  if (first === undefined) return [];
  if (typeof binding.loadPlugin !== 'function') {
    throw pluginError(
      first,
      'this dilbench addon cannot load plugins (rebuild it: npm run build:native)',
    );
  }
  const libs: { spec: string; path: string }[] = [];
  for (const spec of specs) {
    const p = resolveLibrary(spec);
    if (!libs.some((l) => l.path === p)) libs.push({ spec, path: p });
  }
  // the probe: same loader, other process; when it fails, each library alone names the culprit
  const probe = async (paths: string[]): Promise<string | null> => {
    const worker = new PluginWorker(paths, { timeLimitSeconds: 60 });
    try {
      await worker.start();
      return null;
    } catch (e) {
      return messageOf(e);
    } finally {
      worker.close();
    }
  };
  const together = await probe(libs.map((l) => l.path));
  if (together !== null) {
    for (const l of libs) {
      const alone = await probe([l.path]);
      if (alone !== null)
        throw pluginError(l.spec, alone.replace(/during loading .*$/, `while loading '${l.spec}'`));
    }
    throw pluginError(libs.map((l) => l.spec).join(', '), together);
  }
  const records: PluginRecord[] = [];
  for (const l of libs) {
    let loaded;
    try {
      loaded = binding.loadPlugin(l.path);
    } catch (e) {
      throw pluginError(l.spec, messageOf(e));
    }
    records.push({
      spec: l.spec,
      kind: 'c-abi',
      path: l.path,
      sha256: sha256File(l.path),
      implementations: loaded.kernels,
      abi: loaded.abi,
      pluginName: loaded.pluginName,
    });
  }
  return records;
}
