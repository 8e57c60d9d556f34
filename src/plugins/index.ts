// Plugins for a run (issue 15): parse the specs, load them, and wrap the binding so plugin
// implementations run isolated in worker processes (C ABI libraries: worker.ts; Python callables:
// python.ts). The CLI's --plugin and runBenchmark({ plugins })
// both come through here; `dilbench doctor` lists what they add.
import type { NativeBinding } from '../native/binding.js';
import { ConfigError } from '../config/errors.js';
import { refreshDescriptors } from '../implementations/descriptors.js';
import { isolatePlugins } from './isolated-binding.js';
import { isPythonSpec, loadCPlugins } from './load.js';
import { loadPythonPlugins } from './python.js';
import type { PluginRecord } from './types.js';

export type { PluginRecord } from './types.js';

/** The plugin specs of an option value (a list, or one string; empty entries are an error). */
export function parsePluginSpecs(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => {
    if (typeof v !== 'string' || v.trim() === '') {
      throw new ConfigError(
        'plugin',
        v,
        'a C ABI shared library path, file.py:function or package.module:function',
        'empty plugin spec',
      );
    }
    return v.trim();
  });
}

export interface PreparedPlugins {
  binding: NativeBinding;
  records: PluginRecord[];
  close(): void;
}

/**
 * Loads the plugins into `binding` and returns the binding the run uses (plugins isolated in
 * workers whose calls may take at most `timeLimitSeconds`; Python runs torch on `threads`), or
 * `binding` itself when there are none.
 */
export async function preparePlugins(
  specs: string[],
  binding: NativeBinding,
  opts: { timeLimitSeconds: number; threads: number },
): Promise<PreparedPlugins> {
  if (specs.length === 0) return { binding, records: [], close: () => {} };
  const pythonSpecs = specs.filter(isPythonSpec);
  const cSpecs = specs.filter((s) => !isPythonSpec(s));
  const records = await loadCPlugins(cSpecs, binding);
  refreshDescriptors(binding);
  let run: NativeBinding = binding;
  const closers: (() => void)[] = [];
  if (records.length) {
    const isolated = isolatePlugins(
      binding,
      records.flatMap((r) => r.implementations),
      records.map((r) => r.path),
      { timeLimitSeconds: opts.timeLimitSeconds },
    );
    closers.push(() => isolated.close());
    run = isolated;
  }
  if (pythonSpecs.length) {
    const py = await loadPythonPlugins(pythonSpecs, run, {
      threads: opts.threads,
      timeLimitSeconds: opts.timeLimitSeconds,
    });
    closers.push(() => py.close());
    records.push(...py.records);
    run = py.wrap(run);
  }
  return { binding: run, records, close: () => closers.forEach((c) => c()) };
}

/**
 * Loads C ABI plugins into `binding`, so its listImplementations() lists their kernels (with
 * origin, path and ABI). runBenchmark({ plugins }) does this itself; this is for listing.
 */
export async function loadPluginsInto(
  specs: string[] | string,
  binding: NativeBinding,
): Promise<PluginRecord[]> {
  const records = await loadCPlugins(parsePluginSpecs(specs), binding);
  refreshDescriptors(binding);
  return records;
}
