// JSON view of a ResultFile: the file itself (schema in src/results/types.ts).
import type { ResultFile } from '../results/types.js';

export function toJson(file: ResultFile): string {
  return JSON.stringify(file, null, 2) + '\n';
}

export function parseResultFile(text: string): ResultFile {
  const data = JSON.parse(text) as ResultFile;
  if (
    typeof data !== 'object' ||
    data === null ||
    !Array.isArray(data.results) ||
    typeof data.schemaVersion !== 'number'
  ) {
    throw new Error('not a dilbench result file (missing schemaVersion or results)');
  }
  return data;
}
