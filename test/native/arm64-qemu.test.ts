// The NEON kernels (native/cpu/*_neon.cpp, native/model/gemm_neon.cpp) checked against the
// float64 references on an x86 machine: scripts/check-arm64.sh cross-compiles the native check
// tools for aarch64 into a temp dir and runs them under qemu-aarch64 (correctness only). Skips,
// saying why, without Debian's g++-aarch64-linux-gnu and qemu-user (.ci/install-arm64-tools.sh),
// or on an aarch64 host, where every native test already runs the NEON level directly.
// scripts/check-clang.sh: the core (generic path, x86 levels, NEON files) compiles with clang too.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const missing = ['aarch64-linux-gnu-g++', 'qemu-aarch64', 'cmake'].filter((c) => !has(c));
// npm run test:sanitize runs test/native with libasan preloaded into every child process: these
// checks build and run aarch64 tools, not the sanitized addon, so they run in npm test only.
const sanitizerRun = /libasan/.test(process.env.LD_PRELOAD ?? '')
  ? 'the sanitizer run (libasan preloaded) does not involve these builds; npm test (clang) and npm run test:arm64 (qemu) run them'
  : '';
// minutes of emulation: a step of its own (npm run test:arm64, which CI runs after npm test),
// so the main suite stays short
const ownStep =
  process.env.DILBENCH_ARM64_CHECKS === '1'
    ? ''
    : 'they take minutes under emulation and run in their own step: npm run test:arm64 (CI runs it)';
const skip = ownStep
  ? ownStep
  : sanitizerRun
    ? sanitizerRun
    : process.arch === 'arm64'
      ? 'the host is arm64: the other native tests run the NEON level directly'
      : missing.length
        ? `${missing.join(', ')} not found (bash .ci/install-arm64-tools.sh installs them)`
        : '';
if (skip) console.log(`arm64 NEON checks under qemu skipped: ${skip}`);

describe.skipIf(!!skip)('NEON kernels under qemu-aarch64 (scripts/check-arm64.sh)', () => {
  it('cross-compiles the check tools and passes the float64 checks at the neon level', () => {
    const build = mkdtempSync(path.join(tmpdir(), 'dilbench-arm64-'));
    try {
      const r = spawnSync('bash', ['scripts/check-arm64.sh'], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, DILBENCH_ARM64_BUILD_DIR: build },
        timeout: 1_500_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      const out = `${r.stdout}\n${r.stderr}`;
      expect(r.status, out.slice(-4000)).toBe(0);
      // the kernels ran at the NEON level, not the generic fallback
      expect(out).toMatch(/^SIMD level: neon \(detected neon\)$/m);
      expect(out).toMatch(/^detected SIMD: neon,/m);
      // conversions bit-exact at generic and neon over every fp16 pattern and the fp32 edge set
      const conv = /half conversions: (\d+) values checked, (\d+) mismatches/.exec(out);
      expect(conv, out.slice(-4000)).not.toBeNull();
      expect(Number(conv![1])).toBeGreaterThan(1_000_000);
      expect(Number(conv![2])).toBe(0);
      // flash / naive / kv-cache on fp16 and bf16 storage vs float64: the tool's summary table
      for (const k of ['flash', 'naive', 'kv-cache'])
        for (const t of ['fp16', 'bf16'])
          expect(out).toMatch(new RegExp(`^${k}/${t}\\s+\\d+\\s`, 'm'));
      // attendBlock tiles, the model GEMM and the dense kernels at the neon level, and no failure anywhere
      expect(out).toMatch(/^ok +attendBlock neon /m);
      expect(out).toMatch(/^ok +gemm +neon /m);
      expect(out).toMatch(/^ok +flash +neon /m);
      expect(out).toMatch(/^ok +naive +neon /m);
      expect(out).not.toMatch(/^FAIL/m);
      for (const part of ['attendBlock', 'gemm', 'dense'])
        expect(out).toMatch(new RegExp(`^${part}: [1-9]\\d* cases, 0 failures$`, 'm'));
      expect(out).toMatch(/^[1-9]\d* cases, 0 failures$/m); // family_check half's kernels
      expect(out).toMatch(/ALL CHECKS PASSED/);
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  }, 1_600_000);
});

const clangSkip =
  sanitizerRun ||
  (has('clang++') ? '' : 'clang++ not found (bash .ci/install-arm64-tools.sh installs clang)');
if (clangSkip) console.log(`clang build check skipped: ${clangSkip}`);

describe.skipIf(!!clangSkip)('the native core compiles with clang (scripts/check-clang.sh)', () => {
  it('compiles every core source for x86-64, and the generic and NEON sources for aarch64, warning-free', () => {
    const r = spawnSync('bash', ['scripts/check-clang.sh'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 900_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out.slice(-4000)).toBe(0);
    const x86 = /check-clang: x86-64: (\d+) core sources compile/.exec(out);
    expect(x86, out).not.toBeNull();
    expect(Number(x86![1])).toBeGreaterThan(30);
    // the aarch64 half needs the cross compiler's headers; say so when it was skipped
    if (/check-clang: aarch64 skipped/.test(out))
      console.log(out.match(/check-clang: aarch64 skipped.*/)![0]);
    else
      expect(out).toMatch(
        /check-clang: aarch64: [1-9]\d* core sources \(generic and NEON\) compile/,
      );
  }, 960_000);
});
