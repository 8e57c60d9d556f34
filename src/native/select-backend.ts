// Which native binary the loader should load. The CUDA engineer replaces this body with the
// CPU/CUDA variant selection; `path: null` means "use node-gyp-build's default rule"
// (build/Release, build/Debug, then prebuilds/<platform>-<arch>/).
export interface BinarySelection {
  /** absolute path of the .node file to load, or null for the node-gyp-build default */
  path: string | null;
  backend: 'cpu';
  /** why this binary was chosen (shown in load errors and `dilbench info`) */
  reason: string;
}

export function selectBinaryPath(root: string): BinarySelection {
  void root;
  return { path: null, backend: 'cpu', reason: 'default node-gyp-build resolution' };
}
