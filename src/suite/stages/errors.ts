// The error codes the suite engine's stages act on, and how they read an unknown error.
export const CANCELLED = 'ERR_DILBENCH_CANCELLED';
export const UNSUPPORTED = 'ERR_DILBENCH_UNSUPPORTED';
export const OUT_OF_MEMORY = 'ERR_DILBENCH_OUT_OF_MEMORY';

export function codeOf(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ERR_DILBENCH_INTERNAL';
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
