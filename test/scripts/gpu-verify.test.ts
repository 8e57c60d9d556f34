// scripts/gpu-verify.sh, the one command a GPU session runs: every group fits a 10-minute device
// command, and `run` records each step's status and goes on after a failure. Checked here with
// stand-in harnesses in a temporary carry folder (no GPU involved).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const script = join(root, 'scripts', 'gpu-verify.sh');
const dir = mkdtempSync(join(tmpdir(), 'dilbench-gpu-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function steps() {
  const r = spawnSync('bash', [script, 'steps'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^(\S+)\s+(\S+)\s+(\d+)s\s+(.*)$/.exec(l);
      if (!m) throw new Error(`unparsable step line: ${l}`);
      return {
        name: m[1] as string,
        group: m[2] as string,
        limit: Number(m[3]),
        cmd: m[4] as string,
      };
    });
}

describe('scripts/gpu-verify.sh', () => {
  it('each group fits one 10-minute device command and every step names a harness that exists', () => {
    const all = steps();
    expect(all.length).toBeGreaterThanOrEqual(10);
    const byGroup = new Map<string, number>();
    for (const s of all) byGroup.set(s.group, (byGroup.get(s.group) ?? 0) + s.limit);
    expect([...byGroup.keys()].sort()).toEqual(['checks', 'multigpu', 'node', 'sanitize', 'speed']);
    for (const [g, total] of byGroup) expect(total, g).toBeLessThan(600);
    // the repository files the steps run exist
    for (const s of all)
      for (const f of s.cmd.match(/(?:test\/gpu|native\/cuda\/tools)\/[\w./-]+/g) ?? [])
        expect(() => readFileSync(join(root, f)), f).not.toThrow();
  });

  it('run: a failing step is recorded and the next one still runs; exit status = failed steps', () => {
    const carry = join(dir, 'carry');
    spawnSync('mkdir', ['-p', carry]);
    // stand-ins: a harness that passes, one that fails, and a Node that is the real one
    writeFileSync(
      join(carry, 'cuda_bench'),
      '#!/bin/sh\n[ "$1" = check ] && { echo "check: 480 cases, 0 failures"; exit 0; }\necho "info: stand-in"\n',
    );
    writeFileSync(
      join(carry, 'model_kernels_check'),
      '#!/bin/sh\necho "FAIL gemm tile 3"; exit 1\n',
    );
    writeFileSync(
      join(carry, 'node'),
      `#!/bin/sh\nexec "${process.execPath}" -e "process.exit(0)"\n`,
    );
    for (const f of ['cuda_bench', 'model_kernels_check', 'node']) chmodSync(join(carry, f), 0o755);
    const out = join(dir, 'out');
    const r = spawnSync('bash', [script, 'run', 'kernels-check', 'model-kernels-check', 'peak'], {
      encoding: 'utf8',
      env: { ...process.env, GPU_CARRY: carry, OUT: out },
    });
    const summary = readFileSync(join(out, 'SUMMARY.txt'), 'utf8');
    expect(summary).toMatch(/^kernels-check\s+rc=0\s.*0 failures/m);
    expect(summary).toMatch(/^model-kernels-check\s+rc=1\s.*FAIL gemm tile 3/m);
    expect(summary).toMatch(/^peak\s+rc=0/m);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('1 step(s) failed');
  });
});
