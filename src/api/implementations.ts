// listImplementations(): what the loaded binding offers; loadPlugins(): C plugins added to it.
import type { NativeImplementationInfo } from '../native/binding.js';
import { getDilbench, type Dilbench } from '../native/dilbench.js';
import { loadPluginsInto, type PluginRecord } from '../plugins/index.js';

/** The implementations the binding offers (on `device` when given); `dilbench` omitted: getDilbench(). */
export function listImplementations(
  device?: 'cpu' | 'cuda',
  options: { dilbench?: Dilbench } = {},
): NativeImplementationInfo[] {
  const all = (options.dilbench ?? getDilbench()).binding.listImplementations();
  return device ? all.filter((i) => i.device === device) : all;
}

/**
 * Loads C ABI plugins into the binding, so listImplementations() lists their kernels (with origin,
 * path and ABI). runBenchmark({ plugins }) does this itself; this is for listing.
 */
export async function loadPlugins(
  specs: string[] | string,
  options: { dilbench?: Dilbench } = {},
): Promise<PluginRecord[]> {
  return loadPluginsInto(specs, (options.dilbench ?? getDilbench()).binding);
}
