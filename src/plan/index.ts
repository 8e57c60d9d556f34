export * from './planner.js';
export * from './calibrate.js';
