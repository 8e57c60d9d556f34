// The communication model against a link of known speed (issue 19): two network namespaces joined
// by a veth pair, each direction shaped with tc (tbf) to RATE_MBIT; one rank in each (Open MPI's TCP
// transport; mpirun runs in the first namespace and starts the second rank through a
// plm_rsh_agent script that runs `ip netns exec`). The problem is communication-bound (a step's
// compute is ~2% of its transfer), so a step's communication time is its compute + polls + wait.
//
// Tolerances, and why:
//  - ping-pong bandwidth in [0.5, 1.0] x RATE: TCP/IP over Ethernet carries at most 1448 payload
//    bytes per 1514 shaped bytes (0.956); TCP's congestion control against a token bucket loses
//    more, and TCP over veth costs CPU that a loaded machine lacks (0.65-0.85 measured here at
//    200 Mbit/s with load 6-12 on 2 cores; 100 Mbit/s needs half the CPU). Above the rate is impossible.
//  - no rank's step can beat the shaped rate: bytes / (compute + polls + wait) <= 1.05 x RATE.
//  - the model's per-step time, bytes / ping-pong bandwidth, matches the faster rank's measured
//    step within [0.75, 1.5]. The slower rank is reported, not asserted: both directions transfer
//    at once, and each direction's data queues in front of the other direction's ACKs in the same
//    shaped queue, which slowed one direction by up to 2x here (a property of the link, printed).
// Skips with a printed reason when not root, without ip/tc, when namespaces or tbf cannot be
// created, or without MPI.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distributedAvailability, resolveCommand } from '../../src/distributed/launcher.js';
import { analyzeLayout } from '../../src/distributed/analysis.js';
import { launchRing, parseDistributedOptions } from '../../src/distributed/run.js';
import { packageRoot } from '../../src/native/loader.js';

const RATE_MBIT = 100;
const tag = `${process.pid % 10000}`;
const ns = [`dbring${tag}a`, `dbring${tag}b`];
const subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
const addr = [`${subnet}.1`, `${subnet}.2`];

function sh(cmd: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function setUp(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return 'not root (creating network namespaces needs CAP_NET_ADMIN)';
  if (!resolveCommand('ip') || !resolveCommand('tc')) return 'ip or tc (iproute2) not found';
  const avail = distributedAvailability(packageRoot());
  if (!avail.available) return avail.reason;
  if (avail.launcher?.flavour !== 'openmpi')
    return 'the namespace launch uses Open MPI options (plm_rsh_agent)';
  const steps: string[][] = [
    ['ip', 'netns', 'add', ns[0]!],
    ['ip', 'netns', 'add', ns[1]!],
    ['ip', 'link', 'add', `dbv${tag}a`, 'type', 'veth', 'peer', 'name', `dbv${tag}b`],
    ['ip', 'link', 'set', `dbv${tag}a`, 'netns', ns[0]!],
    ['ip', 'link', 'set', `dbv${tag}b`, 'netns', ns[1]!],
  ];
  for (let i = 0; i < 2; i++) {
    const dev = `dbv${tag}${i ? 'b' : 'a'}`;
    steps.push(
      ['ip', '-n', ns[i]!, 'addr', 'add', `${addr[i]}/24`, 'dev', dev],
      ['ip', '-n', ns[i]!, 'link', 'set', dev, 'up'],
      ['ip', '-n', ns[i]!, 'link', 'set', 'lo', 'up'],
      // tbf: netem (delay) is missing from many kernels; the rate is what the model predicts from
      [
        'ip',
        'netns',
        'exec',
        ns[i]!,
        'tc',
        'qdisc',
        'add',
        'dev',
        dev,
        'root',
        'tbf',
        'rate',
        `${RATE_MBIT}mbit`,
        'burst',
        '64kb',
        'latency',
        '5ms',
      ],
    );
  }
  for (const s of steps) {
    const r = sh(s);
    if (!r.ok) return `could not set up the namespaces (${s.join(' ')}: ${r.out})`;
  }
  return null;
}

function tearDown(): void {
  for (const n of ns) sh(['ip', 'netns', 'del', n]);
}

const skipReason = setUp();
if (skipReason) {
  console.log(`veth namespace link test skipped: ${skipReason}`);
  tearDown();
}
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dilbench-netns-'));
afterAll(() => {
  tearDown();
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!!skipReason)(`ring over a veth pair shaped to ${RATE_MBIT} Mbit/s`, () => {
  it('measured ping-pong and per-step communication match bytes / shaped bandwidth', async () => {
    const avail = distributedAvailability(packageRoot());
    const agent = path.join(tmp, 'netns-agent.sh');
    writeFileSync(
      agent,
      `#!/bin/sh\n# plm_rsh_agent: host is a namespace's address; run the command there as ssh would\nhost="$1"; shift\n` +
        `case "$host" in ${addr[0]}) n=${ns[0]};; ${addr[1]}) n=${ns[1]};; *) echo "unknown host $host" >&2; exit 1;; esac\n` +
        `exec ip netns exec "$n" /bin/sh -c "$*"\n`,
    );
    chmodSync(agent, 0o755);
    const launcher = path.join(tmp, 'mpirun-in-ns.sh');
    writeFileSync(
      launcher,
      `#!/bin/sh\nexec ip netns exec ${ns[0]} ${avail.launcher!.path} "$@"\n`,
    );
    chmodSync(launcher, 0o755);
    const hosts = path.join(tmp, 'hosts');
    writeFileSync(hosts, `${addr[0]} slots=1\n${addr[1]} slots=1\n`);
    const o = parseDistributedOptions({
      ranks: 2,
      totalTokens: [256],
      heads: 16,
      headDim: 128,
      runs: 3,
      warmup: 1,
      check: 'none',
      timeout: 120,
      launcherArgs: `--hostfile ${hosts} --mca plm_rsh_agent ${agent} --mca btl tcp,self --mca btl_tcp_if_include ${subnet}.0/24 --mca oob_tcp_if_include ${subnet}.0/24`,
    });
    const { raw } = await launchRing(o, 256, {
      launcher: { ...avail.launcher!, path: launcher },
      rankExecutable: avail.rankExecutable!,
    });
    const m = analyzeLayout(raw, raw.layouts[0]!);
    const rateGBps = RATE_MBIT / 8 / 1000;
    const bytes = m.perStep[0]!.bytesSent[0]!;
    expect(bytes).toBe(2 * 16 * 128 * 128 * 4); // 2 x kvHeads x 128 rows x headDim x 4 bytes
    const pp = m.pingPong.medianGBps!;
    const stepMs = m.perStep[0]!.computeMs.map(
      (c, r) => c + m.perStep[0]!.pollMs[r]! + m.perStep[0]!.waitMs[r]!,
    );
    const modelMs = bytes / (pp * 1e6);
    const shapedMs = bytes / (rateGBps * 1e6);
    console.log(
      `veth ${RATE_MBIT} Mbit/s: ping-pong ${(pp * 8000).toFixed(0)} Mbit/s (${(pp / rateGBps).toFixed(2)} of the rate); ` +
        `step 0 per rank ${stepMs.map((x) => x.toFixed(1)).join(', ')} ms (compute ${m.perStep[0]!.computeMs.map((x) => x.toFixed(1)).join(', ')} ms); ` +
        `model bytes/ping-pong ${modelMs.toFixed(1)} ms, bytes/shaped rate ${shapedMs.toFixed(1)} ms`,
    );
    expect(pp / rateGBps).toBeGreaterThanOrEqual(0.5);
    expect(pp / rateGBps).toBeLessThanOrEqual(1.0);
    for (const ms of stepMs) expect(bytes / (ms * 1e6)).toBeLessThanOrEqual(1.05 * rateGBps);
    const fastest = Math.min(...stepMs);
    expect(fastest / modelMs).toBeGreaterThanOrEqual(0.75);
    expect(fastest / modelMs).toBeLessThanOrEqual(1.5);
  });
});
