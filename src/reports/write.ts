// Writes a ResultFile as <suite>_<timestamp>.json|.csv|.md, each atomically (results/store.ts),
// the JSON claiming the name so that no run overwrites another's.
import { join, resolve } from 'node:path';
import type { ResultFile } from '../results/types.js';
import { resultBaseName, writeFileAtomic, writeFileAtomicExclusive } from '../results/store.js';
import { toJson } from './json.js';
import { toCsv } from './csv.js';
import { toMarkdown } from './markdown.js';

export interface WrittenFiles {
  json: string;
  csv: string;
  markdown: string;
}

/** `markdown`: a command whose answer is its own tables (`dilbench bench`) gives the Markdown view;
 *  otherwise the suites' report (reports/markdown.ts) is written. */
export async function writeResultFiles(
  file: ResultFile,
  outputDir: string,
  views: { markdown?: string } = {},
): Promise<WrittenFiles> {
  const dir = resolve(outputDir);
  // Never overwrite: two runs that start in the same millisecond (several processes writing one
  // directory) get <name>.json and <name>-2.json, ... The JSON claims the name atomically.
  const json = toJson(file);
  let base = join(dir, resultBaseName(file));
  for (let n = 2; !writeFileAtomicExclusive(`${base}.json`, json); n++) {
    base = join(dir, `${resultBaseName(file)}-${n}`);
  }
  const out: WrittenFiles = { json: `${base}.json`, csv: `${base}.csv`, markdown: `${base}.md` };
  writeFileAtomic(out.csv, toCsv(file));
  writeFileAtomic(out.markdown, views.markdown ?? toMarkdown(file));
  return out;
}
