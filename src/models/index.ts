export * from './config.js';
export * from './safetensors.js';
export * from './gpt2-checkpoint.js';
export * from './tokenizer.js';
