export * from './errors.js';
export * from './units.js';
export * from './ranges.js';
export * from './schema.js';
export { packageRoot, packageVersion, configPath } from './paths.js';
