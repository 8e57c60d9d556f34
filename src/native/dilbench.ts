// The Dilbench object: the one place that holds the loaded native addon and what was chosen for it
// (which binary and why, its SIMD level, whether CUDA is usable, or why loading failed), plus the
// bindings a caller set in its stead (a fake in tests, a plugin-wrapped one). One per process,
// from getDilbench() (as node-llama-cpp's getLlama()); code that needs the binding asks it, or is
// handed it. Loading happens on first use, so a process that only reads result files never loads
// the addon.
import type { ModelBinding } from './model-binding.js';
import type { NativeBinding, NativeInfo, SimdLevelName } from './binding.js';
import { loadAddon, type LoadedBinary } from './load-addon.js';

export type { LoadedBinary };

export interface CudaAvailability {
  available: boolean;
  /** a sentence: the device found, or why there is none */
  reason: string;
}

/** Whether the binding can run on a CUDA device, and a sentence saying which device or why not. */
export function cudaAvailability(info: Pick<NativeInfo, 'cuda'>): CudaAvailability {
  const cuda = info.cuda;
  if (!cuda?.compiled) {
    return {
      available: false,
      reason: 'no CUDA device: the loaded dilbench build has no CUDA backend',
    };
  }
  if (!(cuda.deviceCount > 0)) {
    const why = cuda.error ? ` (${cuda.error})` : '';
    return {
      available: false,
      reason: `no CUDA device: the CUDA backend is built but no device is usable${why}`,
    };
  }
  const d = cuda.devices[0];
  const what = d
    ? `${d.name} (compute capability ${d.computeCapability}, ${(d.totalMemoryBytes / 1024 ** 3).toFixed(1)} GiB)`
    : 'device 0';
  return { available: true, reason: `${cuda.deviceCount} CUDA device(s); runs on ${what}` };
}

/** True when the binding implements the model core (createModel). */
export function addonHasModels(binding: unknown): binding is ModelBinding {
  return !!binding && typeof (binding as { createModel?: unknown }).createModel === 'function';
}

function noModelCore(): Error {
  const err = new Error(
    'dilbench: the native addon has no transformer model core (createModel is missing); rebuild it from a checkout that has native/model (npm run build:native)',
  ) as Error & { code: string };
  err.code = 'ERR_DILBENCH_UNSUPPORTED';
  return err;
}

export class Dilbench {
  #addon?: { binding: NativeBinding; binary: LoadedBinary };
  #loadError?: Error;
  #binding?: NativeBinding;
  #models?: ModelBinding;

  /** `binding` / `models`: use these instead of the addon's (the addon is then loaded only when asked for). */
  constructor(init: { binding?: NativeBinding; models?: ModelBinding } = {}) {
    this.#binding = init.binding;
    this.#models = init.models;
  }

  /** The native addon itself (never a binding set in its stead); loads it once, then the same error on every call. */
  get addon(): NativeBinding {
    return this.#load().binding;
  }

  /** The addon, or null when it cannot be loaded (loadError says why). */
  tryAddon(): NativeBinding | null {
    try {
      return this.addon;
    } catch {
      return null;
    }
  }

  /** Why the addon could not be loaded, or null when it loads. */
  get loadError(): Error | null {
    return this.tryAddon() ? null : (this.#loadError ?? null);
  }

  /** Which binary the addon was loaded from, which backend that is, and why it was chosen. */
  get binary(): LoadedBinary {
    return this.#load().binary;
  }

  /** The binary `binding` was loaded from, or undefined when it is not this process's addon (a fake, a wrapper). */
  binaryOf(binding: unknown): LoadedBinary | undefined {
    return this.#addon && binding === this.#addon.binding ? this.#addon.binary : undefined;
  }

  /** The binding runs use: the one set with useBinding, else the addon. */
  get binding(): NativeBinding {
    return this.#binding ?? this.addon;
  }

  /** Sets the binding runs use (undefined: the addon again). */
  useBinding(binding: NativeBinding | undefined): void {
    this.#binding = binding;
  }

  /** The model binding: the one set with useModels, else the addon when it has the model core (else an actionable error). */
  get models(): ModelBinding {
    if (this.#models) return this.#models;
    const b: unknown = this.addon;
    if (!addonHasModels(b)) throw noModelCore();
    return b;
  }

  /** Sets the model binding (undefined: the addon's again). */
  useModels(models: ModelBinding | undefined): void {
    this.#models = models;
  }

  /** The SIMD level the binding in use dispatches to. */
  get simdLevel(): SimdLevelName {
    return this.binding.info().simdLevel;
  }

  /** Whether the binding in use can run on a CUDA device, and why not. */
  get cuda(): CudaAvailability {
    return cudaAvailability(this.binding.info());
  }

  #load(): { binding: NativeBinding; binary: LoadedBinary } {
    if (this.#addon) return this.#addon;
    if (this.#loadError) throw this.#loadError;
    try {
      this.#addon = loadAddon();
      return this.#addon;
    } catch (e) {
      this.#loadError = e as Error;
      throw e;
    }
  }
}

let current: Dilbench | undefined;

/** This process's Dilbench (created on first call; nothing is loaded until something asks for the binding). */
export function getDilbench(): Dilbench {
  current ??= new Dilbench();
  return current;
}

/** Loads (once) and returns the native addon; throws one actionable error when it cannot. */
export function loadBinding(): NativeBinding {
  return getDilbench().addon;
}

/** The native addon, or null when it cannot be loaded (loadBinding() throws the reason). */
export function tryLoadBinding(): NativeBinding | null {
  return getDilbench().tryAddon();
}
