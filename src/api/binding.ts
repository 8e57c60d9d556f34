// Where the library gets its native binding: the real addon through src/native/loader.ts, or one
// set explicitly (tests stand in a fake binding with `setBinding`).
import type { NativeBinding } from '../native/binding.js';
import { loadBinding } from '../native/loader.js';

let current: NativeBinding | undefined;

export function setBinding(binding: NativeBinding | undefined): void {
  current = binding;
}

/** The binding in use; loads the addon on first use (throws one actionable error if it cannot). */
export function getBinding(): NativeBinding {
  if (current) return current;
  current = loadBinding();
  return current;
}
