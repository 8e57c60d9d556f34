// Plugins for a run (issue 15): parse the specs, load them, and wrap the binding so plugin
// implementations run isolated in a worker process. The CLI's --plugin and runBenchmark({ plugins })
// both come through here; `dilbench doctor` lists what they add.
import type { NativeBinding } from '../native/binding.js';
import { ConfigError } from '../config/errors.js';
import { refreshDescriptors } from '../implementations/descriptors.js';
import { isolatePlugins } from './isolated-binding.js';
import { isPythonSpec, loadCPlugins } from './load.js';
import type { PluginRecord } from './types.js';

export type { PluginRecord } from './types.js';
export { computesExactDense, implementationFunction } from '../implementations/descriptors.js';

/** The plugin specs of an option value (a list, or one string; empty entries are an error). */
export function parsePluginSpecs(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => {
    if (typeof v !== 'string' || v.trim() === '') {
      throw new ConfigError('plugin', v, 'a path to a C ABI shared library (include/dilbench_plugin.h)', 'empty plugin spec');
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
 * Loads the plugins into `binding` and returns the binding the run uses (plugins isolated in a
 * worker whose calls may take at most `timeLimitSeconds`), or `binding` itself when there are none.
 */
export async function preparePlugins(specs: string[], binding: NativeBinding, timeLimitSeconds: number): Promise<PreparedPlugins> {
  if (specs.length === 0) return { binding, records: [], close: () => {} };
  const python = specs.filter(isPythonSpec);
  if (python.length) {
    throw new ConfigError('plugin', python[0], 'a path to a C ABI shared library (include/dilbench_plugin.h)', 'Python callables as plugins are not supported yet');
  }
  const records = await loadCPlugins(specs, binding);
  refreshDescriptors(binding);
  const isolated = isolatePlugins(
    binding,
    records.flatMap((r) => r.implementations),
    records.map((r) => r.path),
    { timeLimitSeconds },
  );
  return { binding: isolated, records, close: () => isolated.close() };
}

/**
 * Loads C ABI plugins into the current binding, so listImplementations() lists their kernels (with
 * origin, path and ABI). runBenchmark({ plugins }) does this itself; this is for listing.
 */
export async function loadPlugins(specs: string[] | string): Promise<PluginRecord[]> {
  const { getBinding } = await import('../api/binding.js');
  const binding = getBinding();
  const records = await loadCPlugins(parsePluginSpecs(specs), binding);
  refreshDescriptors(binding);
  return records;
}
