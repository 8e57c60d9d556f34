// What dilbench knows about each implementation, read from its one descriptor (declared in native
// code beside the kernel: native/core/descriptor.h, or by a plugin at load) through the binding's
// listImplementations(). Suites, quick-validation and reports ask here instead of keeping their
// own lists of names.
import type {
  AttentionFunction,
  NativeBinding,
  NativeImplementationInfo,
  NativeParamSpec,
} from '../native/binding.js';
import { getDilbench } from '../native/dilbench.js';

/** The binding runs use (this process's Dilbench object): the default of every lookup here. */
const inUse = (): NativeBinding => getDilbench().binding;

const cache = new WeakMap<NativeBinding, Map<string, NativeImplementationInfo>>();

/** Forgets what was read from a binding (after a plugin registered more implementations). */
export function refreshDescriptors(binding: NativeBinding = inUse()): void {
  cache.delete(binding);
}

function byName(binding: NativeBinding): Map<string, NativeImplementationInfo> {
  let m = cache.get(binding);
  if (!m) {
    m = new Map();
    // one entry per name (a name on several devices shares its descriptor)
    for (const i of binding.listImplementations()) if (!m.has(i.name)) m.set(i.name, i);
    cache.set(binding, m);
  }
  return m;
}

/** The implementation's descriptor, undefined when the binding does not know the name. */
export function implementationDescriptor(
  name: string,
  binding: NativeBinding = inUse(),
): NativeImplementationInfo | undefined {
  return byName(binding).get(name);
}

/** The function an implementation computes (attention-definitions.md), null when unknown. */
export function implementationFunction(
  name: string,
  binding: NativeBinding = inUse(),
): AttentionFunction | null {
  return implementationDescriptor(name, binding)?.function ?? null;
}

/**
 * Whether a row of this implementation computes exact dense attention, so it may be ranked against
 * naive and flash: dense implementations always, kv-cache only under a causal mask (without one it
 * is prefix-LM attention), dilated / dilated-grouped / block-sparse and unknown functions never.
 */
export function computesExactDense(
  name: string,
  causal: boolean,
  binding: NativeBinding = inUse(),
): boolean {
  const d = implementationDescriptor(name, binding)?.exactDense;
  return d === 'always' || (d === 'when-causal' && causal);
}

/** The validated implementation of the same function this one is compared with beyond the reference. */
export function partnerOf(name: string, binding: NativeBinding = inUse()): string | undefined {
  return implementationDescriptor(name, binding)?.partner ?? undefined;
}

let specs: Map<string, NativeParamSpec> | undefined;

/**
 * Every implementation parameter's spec, from the addon (a fake binding that stands in for runs
 * does not stand in for the parameter table: then the real addon's is read).
 */
export function paramSpecs(): Map<string, NativeParamSpec> {
  if (specs) return specs;
  const current = inUse();
  const list =
    typeof current.paramSpecs === 'function'
      ? current.paramSpecs()
      : getDilbench().addon.paramSpecs?.();
  if (!list)
    throw new Error(
      'the loaded dilbench addon has no paramSpecs(): rebuild it (npm run build:native)',
    );
  specs = new Map(list.map((s) => [s.name, s]));
  return specs;
}

export function paramSpec(name: string): NativeParamSpec {
  const s = paramSpecs().get(name);
  if (!s) throw new Error(`no parameter spec named '${name}' in the addon`);
  return s;
}
