// listImplementations(): what the loaded binding offers.
import type { NativeImplementationInfo } from '../native/binding.js';
import { getBinding } from './binding.js';

export async function listImplementations(device?: 'cpu' | 'cuda'): Promise<NativeImplementationInfo[]> {
  const all = (await getBinding()).listImplementations();
  return device ? all.filter((i) => i.device === device) : all;
}
