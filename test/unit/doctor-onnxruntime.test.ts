// dilbench doctor says why onnxruntime-node is missing and how to get it back (npm drops the
// optional dependency silently when its download-only install script fails offline).
import { describe, expect, it } from 'vitest';
import { onnxRuntimeFound } from '../../src/cli/commands/doctor.js';

const notFound = (id: string): never => {
  const e = new Error(`Cannot find module '${id}'`) as NodeJS.ErrnoException;
  e.code = 'MODULE_NOT_FOUND';
  throw e;
};

describe('doctor: onnxruntime-node', () => {
  it('missing: names the cause and the command that brings it back without a download', () => {
    const r = onnxRuntimeFound(notFound, '^1.30.0');
    expect(r.version).toBeNull();
    expect(r.reason).toMatch(/not installed/);
    expect(r.reason).toMatch(/install script fails/);
    expect(r.reason).toContain(
      'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@^1.30.0',
    );
  });

  it('installed but not loadable: says so with the loader error', () => {
    const r = onnxRuntimeFound(
      (id) =>
        id.endsWith('package.json') ? { version: '1.30.0' } : notFound('onnxruntime_binding.node'),
      '^1.30.0',
    );
    expect(r.version).toBeNull();
    expect(r.reason).toMatch(
      /onnxruntime-node 1\.30\.0 is installed but does not load here: Cannot find module 'onnxruntime_binding\.node'/,
    );
  });

  it('present here (the repository installs it): its version', () => {
    const r = onnxRuntimeFound();
    if (r.version === null) {
      console.log(`skipped: onnxruntime-node is not usable in this checkout (${r.reason})`);
      return;
    }
    expect(r.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
