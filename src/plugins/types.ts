// Plugins (issue 15): what a --plugin spec names, and what a run records about each loaded one.

/** One loaded plugin, as the result file's environment records it (what exactly was measured). */
export interface PluginRecord {
  /** the --plugin argument as given */
  spec: string;
  kind: 'c-abi' | 'python';
  /** absolute path of the shared library or .py file (python modules: the file Python imported) */
  path: string;
  /** sha256 of that file's bytes */
  sha256: string;
  /** implementations it added */
  implementations: string[];
  /** C ABI: "major.minor" it was built against */
  abi?: string;
  /** C ABI: the plugin's own name */
  pluginName?: string;
  /** Python: the interpreter and torch versions the callables ran with */
  python?: { executable: string; version: string; torch: string };
}

export const PLUGIN_CRASHED = 'ERR_DILBENCH_PLUGIN_CRASHED';
export const VALIDATION_FAILED = 'ERR_DILBENCH_VALIDATION_FAILED';
/** a Python plugin raised an exception (its message and the last traceback line are in the reason) */
export const PLUGIN_EXCEPTION = 'ERR_DILBENCH_PLUGIN_EXCEPTION';
