// GPT-2-family checkpoints: the tensor names and shapes of Hugging Face's GPT-2 safetensors files
// (Conv1D weights stored [in, out]), checked against a ModelConfig before the native side sees them.
import type { ModelConfig, ModelWeights } from '../native/model-binding.js';
import { readSafetensors, SafetensorsError, type Tensor } from './safetensors.js';

/** name -> expected shape for a GPT-2-family config (no prefix; lm_head.weight only when untied). */
export function gpt2TensorShapes(c: ModelConfig): Map<string, number[]> {
  const h = c.hidden;
  const m = new Map<string, number[]>();
  m.set('wte.weight', [c.vocabSize, h]);
  m.set('wpe.weight', [c.maxPositions, h]);
  for (let i = 0; i < c.layers; i++) {
    const p = `h.${i}.`;
    m.set(`${p}ln_1.weight`, [h]);
    m.set(`${p}ln_1.bias`, [h]);
    m.set(`${p}attn.c_attn.weight`, [h, 3 * h]);
    m.set(`${p}attn.c_attn.bias`, [3 * h]);
    m.set(`${p}attn.c_proj.weight`, [h, h]);
    m.set(`${p}attn.c_proj.bias`, [h]);
    m.set(`${p}ln_2.weight`, [h]);
    m.set(`${p}ln_2.bias`, [h]);
    m.set(`${p}mlp.c_fc.weight`, [h, c.intermediate]);
    m.set(`${p}mlp.c_fc.bias`, [c.intermediate]);
    m.set(`${p}mlp.c_proj.weight`, [c.intermediate, h]);
    m.set(`${p}mlp.c_proj.bias`, [h]);
  }
  m.set('ln_f.weight', [h]);
  m.set('ln_f.bias', [h]);
  if (!c.tiedEmbeddings) m.set('lm_head.weight', [c.vocabSize, h]);
  return m;
}

/** Buffers some GPT-2 exports carry that are not weights (the causal mask). */
const IGNORED = /(^|\.)attn\.(bias|masked_bias)$/;

/**
 * Loads a GPT-2-family safetensors checkpoint for `config`: strips a `transformer.` prefix, drops
 * mask buffers, and checks that every expected tensor is present with the expected shape (errors
 * name the tensor, its shape and the one expected) and that no unknown tensor is left.
 */
export function loadGpt2Checkpoint(
  path: string,
  config: ModelConfig,
): Extract<ModelWeights, { tensors: unknown }> {
  if (
    config.arch !== 'decoder' ||
    config.norm !== 'layernorm' ||
    config.positional !== 'learned' ||
    config.activation !== 'gelu' ||
    config.kvHeads !== config.heads
  ) {
    throw new SafetensorsError(
      `${path}: --checkpoint loads GPT-2-family weights; model "${config.name}" is not GPT-2 shaped (needs arch decoder, layernorm, gelu, learned positions, kvHeads = heads)`,
    );
  }
  const file = readSafetensors(path, undefined, {
    skip: (n) => IGNORED.test(n.startsWith('transformer.') ? n.slice('transformer.'.length) : n),
  });
  const tensors: Record<string, Tensor> = {};
  for (const [raw, t] of Object.entries(file.tensors)) {
    const name = raw.startsWith('transformer.') ? raw.slice('transformer.'.length) : raw;
    if (IGNORED.test(name)) continue;
    tensors[name] = t;
  }
  const expected = gpt2TensorShapes(config);
  // an untied checkpoint that also stores the LM head is fine when it equals wte (tied): drop it
  if (config.tiedEmbeddings && tensors['lm_head.weight']) delete tensors['lm_head.weight'];
  for (const [name, shape] of expected) {
    const t = tensors[name];
    if (!t)
      throw new SafetensorsError(
        `${path}: tensor "${name}" is missing (expected shape [${shape.join(', ')}] for model "${config.name}")`,
        name,
      );
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SafetensorsError(
        `${path}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] for model "${config.name}"`,
        name,
      );
    }
  }
  for (const name of Object.keys(tensors)) {
    if (!expected.has(name))
      throw new SafetensorsError(
        `${path}: tensor "${name}" is not a GPT-2 weight of model "${config.name}" (${config.layers} layers)`,
        name,
      );
  }
  return { tensors };
}
