// The CUDA transformer model's GPU checks without vitest (GPU hosts with Node but no
// node_modules):   node test/gpu/run-model-checks.mjs [path/to/dilbench.node]
// One line per config and dtype (forward relL2 vs the CPU model, tokens, timings, memory) and a
// summary; exit 1 when any check fails, 0 with a message when there is no GPU.
// MODEL_CHECKS_ONLY=<part of a label>: one config; MODEL_CHECKS_TINY=1: the tiny configs only.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  checkModelCase,
  checkModelErrors,
  loadCudaModelBinary,
  modelCases,
} from './model-checks.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = process.argv[2]
  ? { ...process.env, DILBENCH_ADDON_PATH: process.argv[2] }
  : process.env;
const found = loadCudaModelBinary(createRequire(import.meta.url), root, env);
if (!found.binding) {
  console.log(
    `model gpu checks skipped: no CUDA build carrying the CUDA model (${found.tried.join('; ')})`,
  );
  process.exit(0);
}
const b = found.binding;
if (b.info().cuda.deviceCount < 1) {
  console.log(`model gpu checks skipped: no CUDA device (${found.file})`);
  process.exit(0);
}
console.log(`binary: ${found.file}`);
console.log(`device: ${JSON.stringify(b.info().cuda.devices[0])}`);
let failures = 0;
const only = process.env.MODEL_CHECKS_ONLY; // a substring of a case label, to run one case
const tinyOnly = process.env.MODEL_CHECKS_TINY === '1'; // skip the gpt2-shaped case
for (const c of modelCases()) {
  if (only && !c.label.includes(only)) continue;
  if (tinyOnly && c.weights === 'seeded') continue;
  for (const r of await checkModelCase(b, c)) {
    if (!r.ok) failures++;
    const fwd = r.forward
      ? `forward relL2=${r.forward.relL2.toExponential(3)} maxAbs=${r.forward.maxAbs.toExponential(3)}`
      : 'no forward';
    const naive = r.forwardNaive ? ` naive relL2=${r.forwardNaive.relL2.toExponential(3)}` : '';
    const tok = r.tokens
      ? ` tokens cached=${r.tokens.cached.join(',')} cpu=${r.tokens.cpu.join(',')}`
      : '';
    const agree =
      r.tokenAgreement !== undefined ? ` agreement=${(100 * r.tokenAgreement).toFixed(0)}%` : '';
    const time =
      r.prefillMs !== undefined
        ? ` prefill=${r.prefillMs.toFixed(3)}ms step median=${[...r.stepMs].sort((a, x) => a - x)[r.stepMs.length >> 1]?.toFixed(3)}ms`
        : '';
    const mem = r.memory ? ` mem=${JSON.stringify(r.memory.cached)}` : '';
    console.log(
      `${r.ok ? 'PASS' : 'FAIL'} ${r.label} ${r.dtype}: ${fwd}${naive}${agree}${time}${tok}${mem}`,
    );
    for (const f of r.failures) console.log(`    ${f}`);
  }
}
if (!only) {
  for (const r of await checkModelErrors(b)) {
    if (!r.ok) failures++;
    console.log(`${r.ok ? 'PASS' : 'FAIL'} ${r.what}: ${r.got}`);
  }
}
console.log(`model gpu checks: ${failures} failure(s)`);
process.exit(failures ? 1 : 0);
