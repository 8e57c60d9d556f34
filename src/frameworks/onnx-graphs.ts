// The two attention graphs dilbench hands onnxruntime-node, built in process as ONNX bytes:
// - the com.microsoft MultiHeadAttention contrib operator (query/key/value [batch, seq, hidden],
//   num_heads, scale; `unidirectional` for causal, an attribute of the operator since ORT 1.17);
// - plain MatMul -> Softmax -> MatMul on [batch, heads, seq, headDim], with a causal variant that
//   adds an upper-triangular -1e30 mask built in the graph (ConstantOfShape + Trilu, folded to a
//   constant by ORT's optimiser).
import { encodeModel, floatTensor, int64Tensor, OnnxDataType, type OnnxModel, type OnnxNode } from './onnx-proto.js';

export interface AttentionShape {
  batch: number;
  heads: number;
  seqLen: number;
  headDim: number;
  causal: boolean;
  /** omitted or <= 0: 1/sqrt(headDim) */
  scale?: number;
}

export function attentionScale(s: AttentionShape): number {
  return s.scale && s.scale > 0 ? s.scale : 1 / Math.sqrt(s.headDim);
}

export const MASK_VALUE = -1e30;

/** com.microsoft MultiHeadAttention: inputs query/key/value [B, S, H*D], output [B, S, H*D]. */
export function multiHeadAttentionModel(s: AttentionShape): Uint8Array {
  const hidden = s.heads * s.headDim;
  const shape = [s.batch, s.seqLen, hidden];
  const model: OnnxModel = {
    graphName: 'dilbench_mha',
    opsets: { '': 17, 'com.microsoft': 1 },
    inputs: ['query', 'key', 'value'].map((name) => ({ name, elemType: OnnxDataType.FLOAT, shape })),
    outputs: [{ name: 'output', elemType: OnnxDataType.FLOAT, shape }],
    nodes: [
      {
        opType: 'MultiHeadAttention',
        domain: 'com.microsoft',
        inputs: ['query', 'key', 'value'],
        outputs: ['output'],
        attributes: {
          num_heads: { kind: 'int', value: s.heads },
          scale: { kind: 'float', value: attentionScale(s) },
          ...(s.causal ? { unidirectional: { kind: 'int', value: 1 } as const } : {}),
        },
      },
    ],
  };
  return encodeModel(model);
}

/** MatMul-Softmax-MatMul on q/k/v [B, H, S, D] (causal: + upper-triangular mask), output [B, H, S, D]. */
export function matmulAttentionModel(s: AttentionShape): Uint8Array {
  const shape = [s.batch, s.heads, s.seqLen, s.headDim];
  const nodes: OnnxNode[] = [
    { opType: 'Mul', inputs: ['q', 'scale'], outputs: ['q_scaled'] },
    { opType: 'Transpose', inputs: ['k'], outputs: ['k_t'], attributes: { perm: { kind: 'ints', value: [0, 1, 3, 2] } } },
    { opType: 'MatMul', inputs: ['q_scaled', 'k_t'], outputs: ['scores'] },
  ];
  let logits = 'scores';
  const initializers = [floatTensor('scale', [], [attentionScale(s)])];
  if (s.causal) {
    initializers.push(int64Tensor('mask_shape', [2], [s.seqLen, s.seqLen]), int64Tensor('one', [], [1]));
    nodes.push(
      {
        opType: 'ConstantOfShape',
        inputs: ['mask_shape'],
        outputs: ['mask_full'],
        attributes: { value: { kind: 'tensor', value: floatTensor('', [1], [MASK_VALUE]) } },
      },
      { opType: 'Trilu', inputs: ['mask_full', 'one'], outputs: ['mask'], attributes: { upper: { kind: 'int', value: 1 } } },
      { opType: 'Add', inputs: ['scores', 'mask'], outputs: ['scores_masked'] },
    );
    logits = 'scores_masked';
  }
  nodes.push(
    { opType: 'Softmax', inputs: [logits], outputs: ['probs'], attributes: { axis: { kind: 'int', value: -1 } } },
    { opType: 'MatMul', inputs: ['probs', 'v'], outputs: ['output'] },
  );
  return encodeModel({
    graphName: s.causal ? 'dilbench_matmul_causal' : 'dilbench_matmul',
    opsets: { '': 17 },
    inputs: ['q', 'k', 'v'].map((name) => ({ name, elemType: OnnxDataType.FLOAT, shape })),
    outputs: [{ name: 'output', elemType: OnnxDataType.FLOAT, shape }],
    initializers,
    nodes,
  });
}

/** [B, H, S, D] -> [B, S, H*D] */
export function bhsdToBsh(x: Float32Array, s: AttentionShape): Float32Array {
  const { batch: B, heads: H, seqLen: S, headDim: D } = s;
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < S; t++) {
        const src = ((b * H + h) * S + t) * D;
        const dst = ((b * S + t) * H + h) * D;
        out.set(x.subarray(src, src + D), dst);
      }
  return out;
}

/** [B, S, H*D] -> [B, H, S, D] */
export function bshToBhsd(x: Float32Array, s: AttentionShape): Float32Array {
  const { batch: B, heads: H, seqLen: S, headDim: D } = s;
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < S; t++) {
        const dst = ((b * H + h) * S + t) * D;
        const src = ((b * S + t) * H + h) * D;
        out.set(x.subarray(src, src + D), dst);
      }
  return out;
}
