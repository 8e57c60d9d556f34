// listImplementations(): what the loaded binding offers.
import type { NativeImplementationInfo } from '../native/binding.js';
import { getBinding } from './binding.js';

export function listImplementations(device?: 'cpu' | 'cuda'): NativeImplementationInfo[] {
  const all = getBinding().listImplementations();
  return device ? all.filter((i) => i.device === device) : all;
}
