// The suites runBenchmark and the CLI know, by name.
import { sequenceRanges } from '../suites/sequence-ranges.js';
import { quickValidation } from '../suites/quick-validation.js';
import { optimizationImpact } from '../suites/optimization-impact.js';
import { extreme } from '../suites/extreme.js';
import { ringSuite } from '../suites/ring.js';
import { ConfigError } from '../config/errors.js';
import type { CommonRunOptions, SuiteDefinition } from '../suite/types.js';

const SUITES: Record<string, SuiteDefinition<CommonRunOptions>> = {
  [sequenceRanges.name]: sequenceRanges,
  [quickValidation.name]: quickValidation,
  [optimizationImpact.name]: optimizationImpact,
  [extreme.name]: extreme,
  [ringSuite.name]: ringSuite,
};

export function suiteNames(): string[] {
  return Object.keys(SUITES);
}

export function getSuite(name: unknown): SuiteDefinition<CommonRunOptions> {
  const suite = typeof name === 'string' ? SUITES[name] : undefined;
  if (!suite) throw new ConfigError('suite', name, suiteNames().join(', '));
  return suite;
}

/** Lets a later suite (or a test) add itself. */
export function registerSuite(suite: SuiteDefinition<CommonRunOptions>): void {
  SUITES[suite.name] = suite;
}
