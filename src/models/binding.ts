// Where the model suites get their ModelBinding: this process's Dilbench object (the native addon,
// when it was built with the model core) or one set explicitly (tests stand in a fake with setModelBinding).
import type { ModelBinding } from '../native/model-binding.js';
import { addonHasModels, getDilbench } from '../native/dilbench.js';

export { addonHasModels };

/** Sets the model binding (undefined: the addon's again). */
export function setModelBinding(binding: ModelBinding | undefined): void {
  getDilbench().useModels(binding);
}

/** The model binding in use; throws an actionable error when the addon has no model core. */
export function getModelBinding(): ModelBinding {
  return getDilbench().models;
}
