// GPT-2 byte-level BPE (r50k_base, the GPT-2 vocabulary of 50257 tokens) from gpt-tokenizer.
import { decode, encode } from 'gpt-tokenizer/encoding/r50k_base';

export const GPT2_VOCAB_SIZE = 50257;

export function encodeGpt2(text: string): Int32Array {
  return Int32Array.from(encode(text));
}

export function decodeGpt2(tokens: ArrayLike<number>): string {
  return decode(Array.from(tokens));
}

/**
 * Tokens for `text` in a model with `vocabSize` tokens: GPT-2 BPE ids, folded into the vocabulary
 * (id % vocabSize) when the model's vocabulary is smaller (synthetic and non-GPT-2 models: the
 * cost of a token does not depend on its id).
 */
export function tokenizeFor(text: string, vocabSize: number): Int32Array {
  const ids = encodeGpt2(text);
  if (vocabSize >= GPT2_VOCAB_SIZE) return ids;
  return ids.map((t) => t % vocabSize);
}

/** A deterministic synthetic prompt of `length` tokens (seeded LCG over the vocabulary). */
export function syntheticPrompt(length: number, vocabSize: number, seed = 1): Int32Array {
  const out = new Int32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % vocabSize;
  }
  return out;
}
