// The import graph of src/: no cycle, and every import goes down the
// layers below, never up. `npm run lint:deps` and test/structure/imports.test.ts check it.
//
// A run's data flows cli/api -> config -> plan -> measure -> stats -> results -> reports; the
// suite engine (src/suite) is what calls those stages in that order, so in the import graph it sits
// above them, and the parts every stage reads (config's errors and units, the native binding's
// interface, the result schema) sit at the bottom. A module may import its own layer and any
// layer further down the list; importing a layer higher up is an error.
/** @type {{ name: string, paths: string[], why: string }[]} */
const LAYERS = [
  {
    name: 'entry',
    paths: ['^src/index\\.ts$', '^src/cli/', '^src/suite/repetition-worker\\.ts$'],
    why: 'process entry points: the package root, the CLI, the repetition worker process',
  },
  { name: 'bench', paths: ['^src/bench/'], why: '`dilbench bench` (npm run bench): its sections on the suites\' engine' },
  { name: 'api', paths: ['^src/api/'], why: 'the library API: runs suites and writes their files' },
  { name: 'report-command', paths: ['^src/reports/report/'], why: '`dilbench report`: regenerates every kind of output of a directory' },
  { name: 'suites', paths: ['^src/suites/'], why: 'the suite definitions (points and finalisation)' },
  { name: 'distributed', paths: ['^src/distributed/(?!analysis\\.ts$)'], why: 'ring --distributed: launches and runs the MPI ring' },
  { name: 'scaling', paths: ['^src/scaling/'], why: 'dilbench scaling' },
  { name: 'inference', paths: ['^src/inference/'], why: 'dilbench inference' },
  { name: 'plugins', paths: ['^src/plugins/'], why: 'C ABI and Python plugins (Python ones run through the PyTorch bridge)' },
  { name: 'frameworks', paths: ['^src/frameworks/'], why: 'PyTorch / ONNX Runtime adapters and their comparison' },
  { name: 'reports', paths: ['^src/reports/(?!report/)'], why: 'Markdown, CSV, JSON, HTML and plots from result files' },
  { name: 'suite', paths: ['^src/suite/(?!repetition-worker\\.ts$)'], why: 'the suite engine: runSuite and its stages' },
  { name: 'compare', paths: ['^src/compare/'], why: 'two result files (or two sides) compared' },
  { name: 'history', paths: ['^src/history/'], why: 'history.jsonl across runs' },
  { name: 'plan', paths: ['^src/plan/'], why: 'calibration and the planner' },
  { name: 'roofline', paths: ['^src/roofline/'], why: 'machine peaks and rows placed against them' },
  { name: 'measure', paths: ['^src/measure/(?!clock\\.ts$)'], why: 'the scheduler (timing loop), interference and drift probes' },
  { name: 'models', paths: ['^src/models/'], why: 'transformer model configs, checkpoints, tokenizer' },
  { name: 'env', paths: ['^src/env/'], why: 'the environment record' },
  { name: 'results', paths: ['^src/results/(?!types\\.ts$)'], why: 'atomic file writes, ranking, validation, output directory' },
  { name: 'stats', paths: ['^src/stats/', '^src/distributed/analysis\\.ts$'], why: 'statistics (and the distributed measurement summary)' },
  { name: 'config', paths: ['^src/config/'], why: 'schemas, errors, units, paths, YAML' },
  { name: 'implementations', paths: ['^src/implementations/'], why: 'implementation descriptors' },
  { name: 'native', paths: ['^src/native/'], why: 'the addon: its interface, loader and the Dilbench object that holds it' },
  { name: 'schema', paths: ['^src/results/types\\.ts$'], why: 'the result schema: a leaf that imports nothing' },
  { name: 'clock', paths: ['^src/measure/clock\\.ts$'], why: 'the one monotonic clock every duration is read from: a leaf that imports nothing' },
];

const anyOf = (paths) => paths.map((p) => `(${p})`).join('|');

const upstreamRules = LAYERS.slice(1).map((layer, k) => ({
  name: `upstream-from-${layer.name}`,
  comment: `${layer.name} (${layer.why}) imports a layer above it: ${LAYERS.slice(0, k + 1)
    .map((l) => l.name)
    .join(', ')}`,
  severity: 'error',
  from: { path: anyOf(layer.paths) },
  to: { path: anyOf(LAYERS.slice(0, k + 1).flatMap((l) => l.paths)) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle: the modules on it cannot be read (or loaded) one before the other',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-imports-outside-src',
      comment: 'src/ is the package: it imports only itself, node: modules and dependencies',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['local'], pathNot: '^src/' },
    },
    {
      name: 'cli-imported',
      comment: 'the CLI is a top layer of its own: what another module needs from it belongs lower (e.g. textTable in reports/format)',
      severity: 'error',
      from: { pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'unlayered-module',
      comment: 'every module of src/ belongs to a layer in .dependency-cruiser.cjs (add its folder there)',
      severity: 'error',
      from: { path: '^src/', pathNot: anyOf(LAYERS.flatMap((l) => l.paths)) },
      to: {},
    },
    {
      name: 'schema-imports-nothing',
      comment: 'src/results/types.ts is the leaf every layer reads: it imports nothing',
      severity: 'error',
      from: { path: '^src/results/types\\.ts$' },
      to: {},
    },
    ...upstreamRules,
  ],
  options: {
    // type-only imports count: a cycle through types is still a cycle for a reader
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|build|test)/' },
  },
};
