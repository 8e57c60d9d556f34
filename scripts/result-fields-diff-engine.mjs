#!/usr/bin/env node
// Before/after check of the files `dilbench inference` and `dilbench scaling` write (issue 18, one
// measurement engine): runs each command once on fixed seeds, --runs and a tiny synthetic model,
// and lists the field paths of every JSON file and the header of every CSV file. Timings differ
// from run to run; the fields and columns must not.
//
//   node scripts/result-fields-diff-engine.mjs --save FILE     record the fields of this checkout
//   node scripts/result-fields-diff-engine.mjs --against FILE  exit 1 when they differ from FILE
//   (no argument: print them)
//
// Needs the built CLI (npm run build:ts) and addon. With the stand-in CUDA addon built (npx
// cmake-js compile -d native/cuda/model/fake/addon --out build-model-fake-addon) both commands also
// run --compare-devices --compare-dtypes fp32,bf16 on it, so the side comparisons are checked too.
// scripts/result-fields-engine.before.json holds the fields main wrote before the engine change.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const cli = join(root, 'bin', 'dilbench.js');
const work = mkdtempSync(join(tmpdir(), 'dilbench-fields-'));

const tinyModel = (name, arch) =>
  [
    `name: ${name}`,
    `arch: ${arch}`,
    'vocabSize: 50257',
    'maxPositions: 128',
    'hidden: 64',
    'layers: 2',
    'heads: 4',
    'kvHeads: 4',
    'intermediate: 128',
    'norm: layernorm',
    'activation: gelu',
    'positional: learned',
    'tiedEmbeddings: true',
    'normEps: 1.0e-5',
  ].join('\n') + '\n';

/** Field paths of a JSON value: arrays merged ([]), object keys sorted; leaves typed loosely (null vs value). */
function paths(v, prefix, out) {
  if (Array.isArray(v)) {
    for (const x of v) paths(x, `${prefix}[]`, out);
    if (!v.length) out.add(`${prefix}[]`);
  } else if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) paths(v[k], prefix ? `${prefix}.${k}` : k, out);
  } else out.add(prefix);
  return out;
}

/** Environment and config objects depend on the machine and the model, not on the engine. */
const VOLATILE = [
  /^invocations\[\]\.environment\./,
  /^environment\./,
  /^invocations\[\]\.config\./,
  /^model\./,
];

function fieldsOf(dir) {
  const files = {};
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        // result file names carry a timestamp: keep the prefix
        const key = relative(dir, p).replace(/\d{4}-?\d{2}-?\d{2}T[\d-]+(Z)?(-\d+)?/g, '<time>');
        if (p.endsWith('.json'))
          files[key] = [...paths(JSON.parse(readFileSync(p, 'utf8')), '', new Set())]
            .filter((f) => !VOLATILE.some((r) => r.test(f)))
            .sort();
        else if (p.endsWith('.csv')) files[key] = readFileSync(p, 'utf8').split('\n')[0].split(',');
        else files[key] = 'present';
      }
    }
  };
  walk(dir);
  return files;
}

function dilbench(args, env = {}) {
  execFileSync(process.execPath, [cli, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
}

const fakeAddon = join(root, 'build-model-fake-addon', 'Release', 'dilbench.node');
const SIDES = ['--compare-devices', '--compare-dtypes', 'fp32,bf16'];

let result;
try {
  writeFileSync(join(work, 'tiny-decoder.yaml'), tinyModel('tiny-decoder', 'decoder'));
  writeFileSync(join(work, 'tiny-encoder.yaml'), tinyModel('tiny-encoder', 'encoder'));
  const inference = join(work, 'inference');
  const inferenceArgs = [
    'inference',
    '--model',
    join(work, 'tiny-decoder.yaml'),
    '--prompt-length',
    '8',
    '--max-length',
    '4',
    '--runs',
    '2',
    '--warmup',
    '1',
    '--seed',
    '7',
    '--threads',
    '1',
    '--benchmark-dir',
    inference,
    '--no-plots',
    '--quiet',
  ];
  dilbench(inferenceArgs);
  // a second run into the same files, with a side list (cpu/bf16 is recorded as skipped on the CPU model)
  dilbench([...inferenceArgs, '--compare-dtypes', 'fp32,bf16']);
  result = { inference: fieldsOf(inference), scaling: {}, sides: null };
  for (const arch of ['decoder', 'encoder']) {
    const scaling = join(work, `scaling-${arch}`);
    const cfg = join(work, `scaling-${arch}.yaml`);
    writeFileSync(
      cfg,
      [
        `name: fields_${arch}`,
        `arch: ${arch}`,
        `model: ${join(work, `tiny-${arch}.yaml`)}`,
        'context_lengths: [8, 16]',
        `num_tokens: ${arch === 'encoder' ? 0 : 4}`,
        'num_runs: 2',
        'warmup_runs: 1',
        'implementation: flash',
        'seed: 7',
        'threads: 1',
      ].join('\n') + '\n',
    );
    dilbench(['scaling', '--config', cfg, '--out', scaling, '--no-plots', '--quiet']);
    for (const [f, fields] of Object.entries(fieldsOf(scaling)))
      result.scaling[`${arch}: ${f}`] = fields;
  }
  if (existsSync(fakeAddon)) {
    // cpu/fp32, cuda/fp32 and cuda/bf16 run (the stand-in's one fake device) and are compared
    const onFake = { DILBENCH_ADDON_PATH: fakeAddon };
    const sidesInference = join(work, 'sides-inference');
    dilbench(
      [...inferenceArgs.map((a) => (a === inference ? sidesInference : a)), ...SIDES],
      onFake,
    );
    const sidesScaling = join(work, 'sides-scaling');
    dilbench(
      [
        'scaling',
        '--config',
        join(work, 'scaling-decoder.yaml'),
        '--out',
        sidesScaling,
        '--no-plots',
        '--quiet',
        ...SIDES,
      ],
      onFake,
    );
    result.sides = { inference: fieldsOf(sidesInference), scaling: fieldsOf(sidesScaling) };
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const mode = process.argv[2];
if (mode === '--save') {
  writeFileSync(process.argv[3], JSON.stringify(result, null, 2) + '\n');
  console.log(`saved the fields to ${process.argv[3]}`);
} else if (mode === '--against') {
  const before = JSON.parse(readFileSync(process.argv[3], 'utf8'));
  const diffs = [];
  const cmds = ['inference', 'scaling'];
  if (before.sides && result.sides) {
    for (const c of ['inference', 'scaling']) {
      before[`sides ${c}`] = before.sides[c];
      result[`sides ${c}`] = result.sides[c];
      cmds.push(`sides ${c}`);
    }
  } else if (before.sides || result.sides) {
    console.log(
      `side comparisons not checked: ${before.sides ? 'this checkout has' : `${process.argv[3]} has`} no run on the stand-in CUDA addon (${fakeAddon})`,
    );
  }
  for (const cmd of cmds) {
    const names = new Set([...Object.keys(before[cmd] ?? {}), ...Object.keys(result[cmd])]);
    for (const f of names) {
      const a = JSON.stringify(before[cmd]?.[f]);
      const b = JSON.stringify(result[cmd][f]);
      if (a !== b) diffs.push(`${cmd} ${f}:\n  before ${a}\n  after  ${b}`);
    }
  }
  if (diffs.length) {
    console.log(`fields differ from ${process.argv[3]}:\n${diffs.join('\n')}`);
    process.exit(1);
  }
  const count = (c) =>
    Object.values(result[c]).reduce((n, v) => n + (Array.isArray(v) ? v.length : 1), 0);
  console.log(
    `same fields and columns as ${process.argv[3]}: ${cmds.map((c) => `${c} ${Object.keys(result[c]).length} files (${count(c)} fields)`).join(', ')}`,
  );
} else {
  console.log(JSON.stringify(result, null, 2));
}
