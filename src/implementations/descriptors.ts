// What dilbench knows about each implementation, read from its one descriptor (declared in native
// code beside the kernel: native/core/descriptor.h, or by a plugin at load) through the binding's
// listImplementations(). Suites, quick-validation and plugin rows ask here, with the binding they
// run on, instead of keeping their own lists of names.
import type {
  AttentionFunction,
  NativeBinding,
  NativeImplementationInfo,
  NativeParamSpec,
} from '../native/binding.js';
import { getDilbench } from '../native/dilbench.js';

const cache = new WeakMap<NativeBinding, Map<string, NativeImplementationInfo>>();

/** Forgets what was read from a binding (after a plugin registered more implementations). */
export function refreshDescriptors(binding: NativeBinding): void {
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
  binding: NativeBinding,
): NativeImplementationInfo | undefined {
  return byName(binding).get(name);
}

/** The function an implementation computes (attention-definitions.md), null when unknown. */
export function implementationFunction(
  name: string,
  binding: NativeBinding,
): AttentionFunction | null {
  return implementationDescriptor(name, binding)?.function ?? null;
}

/**
 * Whether a row of this implementation computes exact dense attention, so it may be ranked against
 * naive and flash: dense implementations always, kv-cache only under a causal mask (without one it
 * is prefix-LM attention), dilated / dilated-grouped / block-sparse and unknown functions never.
 */
export function computesExactDense(name: string, causal: boolean, binding: NativeBinding): boolean {
  const d = implementationDescriptor(name, binding)?.exactDense;
  return d === 'always' || (d === 'when-causal' && causal);
}

/** The validated implementation of the same function this one is compared with beyond the reference. */
export function partnerOf(name: string, binding: NativeBinding): string | undefined {
  return implementationDescriptor(name, binding)?.partner ?? undefined;
}

let specs: Map<string, NativeParamSpec> | undefined;

/**
 * Every implementation parameter's spec: the addon's static table (native/core/descriptor.cpp),
 * the same whichever binding a run uses, so it is read once from this process's addon (a fake
 * binding does not stand in for it). The option parsers of every suite and the CLI's help read it
 * before any run, which is why this, unlike the lookups above, takes no binding.
 */
export function paramSpecs(): Map<string, NativeParamSpec> {
  if (specs) return specs;
  const list = getDilbench().addon.paramSpecs?.();
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
