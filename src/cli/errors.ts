// How the CLI reports errors: bad input -> message naming the flag, exit 2; anything else -> exit 1.
// No stack trace unless --verbose.
import { CommanderError } from 'commander';
import { ConfigError } from '../config/errors.js';
import type { NativeBinding } from '../native/binding.js';
import type { Dilbench } from '../native/dilbench.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;
/**
 * The machine was not quiet enough to trust the numbers: `--require-quiet` gave up waiting, or
 * `compare` found its only slowdowns in runs flagged for interference. 75 is EX_TEMPFAIL of
 * sysexits.h ("try again later"): a CI gate can retry instead of failing.
 */
export const EXIT_RETRY = 75;

/** An error the CLI has already explained; carries its exit code. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
    this.name = 'CliExit';
  }
}

/** The Dilbench object's binding, loading the addon now: one that cannot load exits 1 with why. */
export function bindingOrExit(dilbench: Dilbench): NativeBinding {
  try {
    return dilbench.binding;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new CliExit(EXIT_FAILURE, msg.replace(/^dilbench: /, ''));
  }
}

export function reportError(
  e: unknown,
  verbose: boolean,
  stderr: NodeJS.WritableStream = process.stderr,
): number {
  if (e instanceof CliExit) {
    if (e.message) stderr.write(`dilbench: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof CommanderError) {
    // commander has printed its message already
    if (
      e.code === 'commander.helpDisplayed' ||
      e.code === 'commander.version' ||
      e.code === 'commander.help'
    )
      return EXIT_OK;
    return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (e instanceof ConfigError) {
    stderr.write(`dilbench: error: ${e.withFlagName().message}\n`);
    if (verbose && e.stack) stderr.write(`${e.stack}\n`);
    return EXIT_USAGE;
  }
  const code = (e as { code?: unknown })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'ERR_DILBENCH_MACHINE_BUSY') {
    stderr.write(`dilbench: ${msg}\n`);
    return EXIT_RETRY;
  }
  if (code === 'ERR_DILBENCH_INVALID_CONFIG') {
    stderr.write(`dilbench: error: ${msg}\n`);
    if (verbose && e instanceof Error && e.stack) stderr.write(`${e.stack}\n`);
    return EXIT_USAGE;
  }
  stderr.write(`dilbench: error: ${msg}${typeof code === 'string' ? ` [${code}]` : ''}\n`);
  if (verbose && e instanceof Error && e.stack) stderr.write(`${e.stack}\n`);
  else stderr.write('(run with --verbose for details)\n');
  return EXIT_FAILURE;
}
