// The GPU checks without vitest (GPU hosts with Node but no node_modules):
//   node test/gpu/run-gpu-checks.mjs [path/to/dilbench.node]
// Prints one line per check and a summary; exit 1 when any check fails. Without a GPU only the
// family plan checks run (they need no device), then it exits with a message.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  checkCase,
  checkDilatedScaling,
  checkFamilyPlans,
  checkFamilyTelemetry,
  checkOom,
  checkPool,
  checkTiming,
  correctnessCases,
  describeCase,
  findCudaBinary,
} from './gpu-checks.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const file = process.argv[2] ?? findCudaBinary(root);
if (!file) {
  console.log('gpu checks skipped: no CUDA variant built (scripts/build-cuda-variant.sh)');
  process.exit(0);
}
const b = createRequire(import.meta.url)(path.resolve(file));
const info = b.info();
let failures = 0;
// Plans of the family kernels need no device.
const plans = checkFamilyPlans(b);
for (const r of plans)
  if (!r.ok) {
    failures++;
    console.log(`FAIL plan ${JSON.stringify(r)}`);
  }
console.log(`${plans.every((r) => r.ok) ? 'PASS' : 'FAIL'} family plans: ${plans.length} checks`);
if (info.cuda.deviceCount < 1) {
  console.log('gpu checks skipped: no CUDA device');
  process.exit(failures ? 1 : 0);
}
console.log(`device: ${JSON.stringify(info.cuda.devices[0])}`);
const worst = {};
for (const c of correctnessCases()) {
  const r = await checkCase(b, c);
  const key = `${r.implementation} ${r.dtype}`;
  worst[key] = Math.max(worst[key] ?? 0, r.relL2);
  if (!r.ok) failures++;
  console.log(
    `${r.ok ? 'PASS' : 'FAIL'} ${describeCase(r)} relL2=${r.relL2.toExponential(3)} maxAbs=${r.maxAbs.toExponential(3)}`,
  );
}
for (const [k, v] of Object.entries(worst)) console.log(`worst relL2 ${k}: ${v.toExponential(3)}`);
for (const r of await checkFamilyTelemetry(b)) {
  if (!r.ok) failures++;
  console.log(`${r.ok ? 'PASS' : 'FAIL'} telemetry ${r.case} ${JSON.stringify(r.gpu)}`);
}
const scaling = await checkDilatedScaling(b);
if (!scaling.ok) failures++;
console.log(
  `${scaling.ok ? 'PASS' : 'FAIL'} dilated scaling (ns/token spread ${scaling.spread.toFixed(3)}, memory/token spread ${scaling.memSpread.toFixed(3)}): ${JSON.stringify(scaling.rows)}`,
);
const pool = await checkPool(b);
for (const r of pool) {
  if (!r.ok) failures++;
  console.log(
    `${r.ok ? 'PASS' : 'FAIL'} pool useMemoryPool=${r.useMemoryPool} ${JSON.stringify(r.stats)}`,
  );
}
const oom = await checkOom(b);
if (!oom.ok) failures++;
console.log(
  `${oom.ok ? 'PASS' : 'FAIL'} oom ${JSON.stringify(oom.attempts)} then flash relL2=${oom.after.relL2.toExponential(3)}`,
);
const t = await checkTiming(b);
if (!t.ok) failures++;
console.log(
  `${t.ok ? 'PASS' : 'FAIL'} timing: ${t.iterations} iterations, CUDA events ${t.eventMs.toFixed(2)} ms vs wall ${t.wallMs.toFixed(2)} ms (ratio ${t.ratio.toFixed(4)}); median ${t.medianMs.toFixed(3)} ms = ${t.tflops.toFixed(1)} TFLOP/s (flash bf16 b1 h16 n16384 d128); cold ${t.coldMs.map((x) => x.toFixed(3)).join(', ')} ms`,
);
console.log(`gpu checks: ${failures} failure(s)`);
process.exit(failures ? 1 : 0);
