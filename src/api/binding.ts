// Where the library gets its native binding: the real addon through src/native/loader.ts, or one
// set explicitly (tests stand in a fake binding with `setBinding`).
import type { NativeBinding } from '../native/binding.js';

let current: NativeBinding | undefined;

export function setBinding(binding: NativeBinding | undefined): void {
  current = binding;
}

export async function getBinding(): Promise<NativeBinding> {
  if (current) return current;
  // The loader is resolved at run time so the library builds before the addon exists.
  const spec = '../native/loader.js';
  const mod = (await import(spec)) as { loadBinding(): NativeBinding };
  current = mod.loadBinding();
  return current;
}
