#!/usr/bin/env node
// Before/after check for refactors that must not change what a result file holds: compares two
// dilbench result JSON files by their field sets (every key path, array elements merged under
// `[]`), and by the values that do not depend on timing (config, and each row's identity and
// status). Timings, ids, dates and machine readings are expected to differ and are not compared.
//
//   node scripts/result-fields-diff.mjs BEFORE.json AFTER.json
//
// Make the two files with the same command on the two builds, e.g.
//   node bin/dilbench.js sequence-ranges --range custom --custom-lengths 256,512 \
//     --implementations naive,flash --runs 3 --warmup 1 --seed 1 --memory-budget 1GiB \
//     --no-plots --output-dir DIR
// Exit 0: same fields and same fixed values; 1: a difference (printed); 2: bad arguments.
import { readFileSync } from 'node:fs';

const [beforePath, afterPath] = process.argv.slice(2);
if (!beforePath || !afterPath) {
  console.error('usage: node scripts/result-fields-diff.mjs BEFORE.json AFTER.json');
  process.exit(2);
}
const read = (p) => JSON.parse(readFileSync(p, 'utf8'));
const before = read(beforePath);
const after = read(afterPath);

/** Every key path in `v`; array elements share one path segment `[]`. */
function paths(v, prefix = '', out = new Set()) {
  if (Array.isArray(v)) {
    out.add(`${prefix}[]`);
    for (const x of v) paths(x, `${prefix}[]`, out);
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.add(p);
      paths(x, p, out);
    }
  }
  return out;
}

// optional fields whose presence depends on the timings themselves (a figure over 100% of the
// peak, a noisy point's warning): reported, not counted as a difference
// (in any file: a suite's results[], compare's rows[], report.json's latest[]), and an interference
// record, present only where other processes loaded the machine
const TIMING_DEPENDENT = [/\.overPeakNote$/, /\.warnings(\[\])?$/, /\.interference(\.|$)/];
const timingDependent = (p) => TIMING_DEPENDENT.some((re) => re.test(p));

const problems = [];
const notes = [];
const a = paths(before);
const b = paths(after);
const differ = (p, where) =>
  (timingDependent(p) ? notes : problems).push(`field only in ${where}: ${p}`);
for (const p of a) if (!b.has(p)) differ(p, beforePath);
for (const p of b) if (!a.has(p)) differ(p, afterPath);
for (const n of notes) console.log(`note (timing-dependent, not a difference): ${n}`);

// config entries that are readings, not settings: the memory budget when none was given (a share
// of the memory free at the start) and the frameworks command's measured comparisons
const READINGS_IN_CONFIG = ['memoryBudgetBytes', 'frameworks'];
const settings = (config) =>
  config &&
  Object.fromEntries(Object.entries(config).filter(([k]) => !READINGS_IN_CONFIG.includes(k)));

// values that a fixed seed and --runs make the same on every run
const fixed = (f) => ({
  schemaVersion: f.schemaVersion,
  suite: f.suite,
  interrupted: f.interrupted ?? false,
  config: settings(f.config),
  rows: (f.results ?? []).map((r) => ({
    implementation: r.implementation,
    device: r.device,
    dtype: r.dtype,
    batch: r.batch,
    seqLen: r.seqLen,
    status: r.status,
    samples: r.samplesMs?.length ?? 0,
    stopReason: r.stopReason ?? null,
  })),
});
const fa = JSON.stringify(fixed(before), null, 1);
const fb = JSON.stringify(fixed(after), null, 1);
if (fa !== fb)
  problems.push(`fixed values differ:\n--- ${beforePath}\n${fa}\n+++ ${afterPath}\n${fb}`);

if (problems.length) {
  for (const p of problems) console.log(p);
  process.exit(1);
}
console.log(
  `same ${a.size} field paths and the same config, rows and statuses (${before.results?.length ?? 0} rows)`,
);
