// Where the model suites get their ModelBinding: the native addon (when it was built with the
// model core) or one set explicitly (tests stand in a fake with setModelBinding).
import type { ModelBinding } from '../native/model-binding.js';
import { loadBinding } from '../native/loader.js';

let current: ModelBinding | undefined;

export function setModelBinding(binding: ModelBinding | undefined): void {
  current = binding;
}

/** True when the loaded addon implements the model binding (createModel). */
export function addonHasModels(binding: unknown): binding is ModelBinding {
  return !!binding && typeof (binding as { createModel?: unknown }).createModel === 'function';
}

/** The model binding in use; throws an actionable error when the addon has no model core. */
export function getModelBinding(): ModelBinding {
  if (current) return current;
  const b = loadBinding() as unknown;
  if (!addonHasModels(b)) {
    const err = new Error(
      'dilbench: the native addon has no transformer model core (createModel is missing); rebuild it from a checkout that has native/model (npm run build:native)',
    ) as Error & { code: string };
    err.code = 'ERR_DILBENCH_UNSUPPORTED';
    throw err;
  }
  current = b;
  return current;
}
