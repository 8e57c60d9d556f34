// Where the library gets its native binding: this process's Dilbench object (src/native/dilbench.ts),
// which loads the real addon, or holds one set explicitly (tests stand in a fake with `setBinding`).
import type { NativeBinding } from '../native/binding.js';
import { getDilbench } from '../native/dilbench.js';

/** Sets the binding runs use (undefined: the native addon again). */
export function setBinding(binding: NativeBinding | undefined): void {
  getDilbench().useBinding(binding);
}

/** The binding in use; loads the addon on first use (throws one actionable error if it cannot). */
export function getBinding(): NativeBinding {
  return getDilbench().binding;
}
