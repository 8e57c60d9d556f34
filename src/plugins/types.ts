// Plugins (issue 15): what a --plugin spec names, and what a run records about each loaded one.
import type { PluginRecord } from '../results/types.js';
export type { PluginRecord };

export const PLUGIN_CRASHED = 'ERR_DILBENCH_PLUGIN_CRASHED';
export const VALIDATION_FAILED = 'ERR_DILBENCH_VALIDATION_FAILED';
/** a Python plugin raised an exception (its message and the last traceback line are in the reason) */
export const PLUGIN_EXCEPTION = 'ERR_DILBENCH_PLUGIN_EXCEPTION';
