// The loader's names where code has long imported them: the package root and the stateless
// loading (load-addon.ts), and the addon as this process's Dilbench object holds it (dilbench.ts).
export { packageRoot, loadAddon, type LoadedBinary } from './load-addon.js';
export { loadBinding, tryLoadBinding } from './dilbench.js';
