// Reads and parses a user's YAML (or JSON: YAML is a superset) file, with errors that name the
// option the path came from and what is allowed.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from './errors.js';

export function readYamlFile(path: string, field: string, readableAllowed: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(field, path, readableAllowed, (e as Error).message);
  }
  try {
    return parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(
      field,
      path,
      'a valid YAML file',
      `YAML: ${(e as Error).message.split('\n')[0]}`,
    );
  }
}
