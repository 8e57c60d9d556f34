// Reading result files for `dilbench compare`: every failure names the file.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { ResultFile } from '../results/types.js';

export class CompareInputError extends Error {
  readonly code = 'ERR_DILBENCH_INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'CompareInputError';
  }
}

const rowSchema = z.looseObject({
  implementation: z.string(),
  device: z.string(),
  dtype: z.string(),
  batch: z.number(),
  heads: z.number(),
  kvHeads: z.number(),
  headDim: z.number(),
  seqLen: z.number(),
  causal: z.boolean(),
  status: z.string(),
  samplesMs: z.array(z.number()).optional().default([]),
});

const fileSchema = z.looseObject({
  schemaVersion: z.number().optional(),
  suite: z.string().optional(),
  environment: z.looseObject({}).optional(),
  results: z.array(rowSchema),
});

/** Reads and checks a dilbench result JSON; throws CompareInputError naming the file. */
export async function loadResultFile(file: string, role = 'result'): Promise<ResultFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new CompareInputError(
      `cannot read ${role} file ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CompareInputError(
      `${role} file ${file} does not parse as JSON: ${(e as Error).message}`,
    );
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') || '(top level)' : '';
    throw new CompareInputError(
      `${role} file ${file} is not a dilbench result file: ${where}: ${issue?.message ?? 'invalid'}`,
    );
  }
  // the schema checks what compare reads (loose: other fields pass through unchecked), so the
  // parsed value is a ResultFile only as far as compare relies on it
  return parsed.data as unknown as ResultFile;
}
