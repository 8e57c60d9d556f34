// The Dilbench object: the one place that holds the loaded native addon and what was chosen for it
// (which binary and why, its SIMD level, whether CUDA is usable, or why loading failed), plus the
// bindings a caller puts in its stead (a fake in tests). getDilbench() gives this process's one
// object (as node-llama-cpp's getLlama()); only entry points call it (the CLI, the public API
// functions when not handed one, worker processes), and they hand the object down: the library
// layers take it, or the binding it holds, as an argument. Loading happens on first use, so a
// process that only reads result files never loads the addon.
import type { ModelBinding } from './model-binding.js';
import type { NativeBinding, NativeInfo, SimdLevelName } from './binding.js';
import { loadAddon, packageRoot, type LoadedBinary } from './load-addon.js';
import { diagnoseBackend, type BackendDiagnosis } from './select-backend.js';

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
  #diagnosis?: BackendDiagnosis;
  readonly #diagnose: () => BackendDiagnosis;
  readonly #binding?: NativeBinding;
  readonly #models?: ModelBinding;

  /**
   * `binding` / `models`: use these instead of the addon's (the addon is then loaded only when asked
   * for). `diagnose`: how the backend selection is made (default: this package's; tests count it).
   */
  constructor(
    init: {
      binding?: NativeBinding;
      models?: ModelBinding;
      diagnose?: () => BackendDiagnosis;
    } = {},
  ) {
    this.#binding = init.binding;
    this.#models = init.models;
    this.#diagnose = init.diagnose ?? (() => diagnoseBackend(packageRoot()));
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

  /**
   * Everything the backend selection looked at (driver, CUDA variant, its probe) and its choice;
   * made once (the probe spawns a process) and the choice the addon is loaded from.
   */
  get diagnosis(): BackendDiagnosis {
    this.#diagnosis ??= this.#diagnose();
    return this.#diagnosis;
  }

  /** Which binary the addon was loaded from, which backend that is, and why it was chosen. */
  get binary(): LoadedBinary {
    return this.#load().binary;
  }

  /** The binary `binding` was loaded from, or undefined when it is not this process's addon (a fake, a wrapper). */
  binaryOf(binding: unknown): LoadedBinary | undefined {
    return this.#addon && binding === this.#addon.binding ? this.#addon.binary : undefined;
  }

  /** The binding runs use: the one given to the constructor, else the addon. */
  get binding(): NativeBinding {
    return this.#binding ?? this.addon;
  }

  /** The model binding: the one given to the constructor, else the addon when it has the model core (else an actionable error). */
  get models(): ModelBinding {
    if (this.#models) return this.#models;
    const b: unknown = this.addon;
    if (!addonHasModels(b)) throw noModelCore();
    return b;
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
      this.#addon = loadAddon(() => this.diagnosis);
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

/** This process's native addon, loaded once (getDilbench().addon, for entry points and tests); throws one actionable error when it cannot. */
export function loadBinding(): NativeBinding {
  return getDilbench().addon;
}

/** The native addon, or null when it cannot be loaded (loadBinding() throws the reason). */
export function tryLoadBinding(): NativeBinding | null {
  return getDilbench().tryAddon();
}
