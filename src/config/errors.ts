// Configuration errors: every one names the field, the value given and what is allowed.

export const INVALID_CONFIG = 'ERR_DILBENCH_INVALID_CONFIG';

export class ConfigError extends Error {
  readonly code = INVALID_CONFIG;
  /** camelCase option name (`batchSize`); the CLI shows it as a flag (`--batch-size`) */
  readonly field: string;
  readonly value: unknown;
  readonly allowed: string;
  readonly detail?: string;

  constructor(field: string, value: unknown, allowed: string, detail?: string) {
    super(
      `invalid ${field}: ${describeValue(value)}` +
        (detail ? ` (${detail})` : '') +
        `; allowed: ${allowed}`,
    );
    this.name = 'ConfigError';
    this.field = field;
    this.value = value;
    this.allowed = allowed;
    this.detail = detail;
  }

  /** The same error with the field shown as a CLI flag (`--batch-size`). */
  withFlagName(): ConfigError {
    return new ConfigError(toFlag(this.field), this.value, this.allowed, this.detail);
  }
}

export function toFlag(field: string): string {
  return '--' + field.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export function describeValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return e instanceof ConfigError;
}
