// The ConfigError a call throws (failing the test when it throws something else or nothing).
import { expect } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';

export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
