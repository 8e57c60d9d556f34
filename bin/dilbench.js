#!/usr/bin/env node
// dilbench command line (the compiled TypeScript lives in dist/).
import { run } from '../dist/src/cli/main.js';

const code = await run(process.argv);
process.exitCode = code;
