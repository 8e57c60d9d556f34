// The two attention graphs dilbench hands onnxruntime-node, built in process as ONNX bytes:
// - the com.microsoft MultiHeadAttention contrib operator (query/key/value [batch, seq, hidden],
//   num_heads, scale; `unidirectional` for causal, an attribute of the operator since ORT 1.17);
// - plain MatMul -> Softmax -> MatMul on [batch, heads, seq, headDim], with a causal variant that
//   adds an upper-triangular -1e30 mask built in the graph (ConstantOfShape + Trilu, folded to a
//   constant by ORT's optimiser).
import { Float16Array } from '@petamoriken/float16';
import {
  encodeModel,
  floatTensor,
  halfTensor,
  int64Tensor,
  OnnxDataType,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from './onnx-proto.js';

export interface AttentionShape {
  batch: number;
  heads: number;
  seqLen: number;
  headDim: number;
  causal: boolean;
  /** omitted or <= 0: 1/sqrt(headDim) */
  scale?: number;
  /** element type of inputs, output and constants (default fp32) */
  dtype?: 'fp32' | 'fp16' | 'bf16';
}

const ELEM_TYPE = {
  fp32: OnnxDataType.FLOAT,
  fp16: OnnxDataType.FLOAT16,
  bf16: OnnxDataType.BFLOAT16,
} as const;

/** fp32 values as bf16 bit patterns, rounded to nearest even (NaN kept) */
export function toBf16Bits(values: ArrayLike<number>): Uint16Array {
  const f = Float32Array.from(values);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(u.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i] as number;
    out[i] =
      (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** bf16 bit patterns as fp32 values (exact) */
export function fromBf16Bits(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = (bits[i] as number) << 16;
  return new Float32Array(u.buffer);
}

/** fp32 values as fp16 bit patterns, rounded to nearest even (IEEE 754 binary16) */
export function toFp16Bits(values: ArrayLike<number>): Uint16Array {
  return new Uint16Array(new Float16Array(Array.from(values)).buffer);
}

/** fp16 bit patterns as fp32 values (exact) */
export function fromFp16Bits(bits: Uint16Array): Float32Array {
  return Float32Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length));
}

/** A constant tensor of the graph's element type. */
function constTensor(
  s: AttentionShape,
  name: string,
  dims: number[],
  values: number[],
): OnnxTensor {
  const dtype = s.dtype ?? 'fp32';
  if (dtype === 'fp32') return floatTensor(name, dims, values);
  return halfTensor(
    name,
    dims,
    ELEM_TYPE[dtype],
    dtype === 'fp16' ? toFp16Bits(values) : toBf16Bits(values),
  );
}

/** The mask's "minus infinity": finite in every element type (fp16's largest is 65504). */
function maskValue(s: AttentionShape): number {
  return (s.dtype ?? 'fp32') === 'fp16' ? -65504 : MASK_VALUE;
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
    inputs: ['query', 'key', 'value'].map((name) => ({
      name,
      elemType: ELEM_TYPE[s.dtype ?? 'fp32'],
      shape,
    })),
    outputs: [{ name: 'output', elemType: ELEM_TYPE[s.dtype ?? 'fp32'], shape }],
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
    {
      opType: 'Transpose',
      inputs: ['k'],
      outputs: ['k_t'],
      attributes: { perm: { kind: 'ints', value: [0, 1, 3, 2] } },
    },
    { opType: 'MatMul', inputs: ['q_scaled', 'k_t'], outputs: ['scores'] },
  ];
  let logits = 'scores';
  const initializers = [constTensor(s, 'scale', [], [attentionScale(s)])];
  if (s.causal) {
    initializers.push(
      int64Tensor('mask_shape', [2], [s.seqLen, s.seqLen]),
      int64Tensor('one', [], [1]),
    );
    nodes.push(
      {
        opType: 'ConstantOfShape',
        inputs: ['mask_shape'],
        outputs: ['mask_full'],
        attributes: { value: { kind: 'tensor', value: constTensor(s, '', [1], [maskValue(s)]) } },
      },
      {
        opType: 'Trilu',
        inputs: ['mask_full', 'one'],
        outputs: ['mask'],
        attributes: { upper: { kind: 'int', value: 1 } },
      },
      { opType: 'Add', inputs: ['scores', 'mask'], outputs: ['scores_masked'] },
    );
    logits = 'scores_masked';
  }
  nodes.push(
    {
      opType: 'Softmax',
      inputs: [logits],
      outputs: ['probs'],
      attributes: { axis: { kind: 'int', value: -1 } },
    },
    { opType: 'MatMul', inputs: ['probs', 'v'], outputs: ['output'] },
  );
  return encodeModel({
    graphName: s.causal ? 'dilbench_matmul_causal' : 'dilbench_matmul',
    opsets: { '': 17 },
    inputs: ['q', 'k', 'v'].map((name) => ({
      name,
      elemType: ELEM_TYPE[s.dtype ?? 'fp32'],
      shape,
    })),
    outputs: [{ name: 'output', elemType: ELEM_TYPE[s.dtype ?? 'fp32'], shape }],
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
