// The in-process ONNX writer: well-formed protobuf, and models onnxruntime-node loads whose outputs
// equal dilbench flash within 1e-4 (MultiHeadAttention causal and not; MatMul graph causal and not).
// Skips (saying why) when onnxruntime-node or the native addon is unavailable.
import { describe, expect, it } from 'vitest';
import {
  decodeFields,
  encodeModel,
  floatTensor,
  int64Tensor,
  OnnxDataType,
} from '../../src/frameworks/onnx-proto.js';
import {
  bhsdToBsh,
  bshToBhsd,
  fromBf16Bits,
  fromFp16Bits,
  matmulAttentionModel,
  multiHeadAttentionModel,
  toBf16Bits,
  toFp16Bits,
} from '../../src/frameworks/onnx-graphs.js';
import { errors, toleranceFor, validationOf } from '../../src/results/validation.js';
import { loadOnnxRuntime, OnnxRuntimeAdapter } from '../../src/frameworks/onnxruntime.js';
import { DilbenchAdapter, seededInputs } from '../../src/frameworks/dilbench.js';
import { outputDifference } from '../../src/frameworks/compare.js';
import type { FrameworkSpec } from '../../src/frameworks/types.js';
import { loadBinding } from '../../src/native/dilbench.js';
import type { NativeBinding } from '../../src/native/binding.js';

const td = new TextDecoder();

describe('protobuf writer', () => {
  it('encodes varints, strings, packed ints and floats that decode back', () => {
    const bytes = encodeModel({
      graphName: 'g',
      opsets: { '': 17, 'com.microsoft': 1 },
      inputs: [{ name: 'x', elemType: OnnxDataType.FLOAT, shape: [1, 'n', 300] }],
      outputs: [{ name: 'y', elemType: OnnxDataType.FLOAT, shape: [1, 'n', 300] }],
      initializers: [int64Tensor('big', [2], [2 ** 40, -1])],
      nodes: [
        {
          opType: 'Relu',
          inputs: ['x'],
          outputs: ['y'],
          attributes: { alpha: { kind: 'float', value: 0.5 }, n: { kind: 'int', value: -3 } },
        },
      ],
    });
    const top = decodeFields(bytes);
    expect(top.find((f) => f.field === 1)?.value).toBe(8n); // ir_version
    const opsets = top.filter((f) => f.field === 8).map((f) => decodeFields(f.value as Uint8Array));
    expect(opsets).toHaveLength(2);
    expect(td.decode(opsets[1]?.find((f) => f.field === 1)?.value as Uint8Array)).toBe(
      'com.microsoft',
    );
    const graph = decodeFields(top.find((f) => f.field === 7)?.value as Uint8Array);
    expect(td.decode(graph.find((f) => f.field === 2)?.value as Uint8Array)).toBe('g');
    const node = decodeFields(graph.find((f) => f.field === 1)?.value as Uint8Array);
    expect(td.decode(node.find((f) => f.field === 4)?.value as Uint8Array)).toBe('Relu');
    const attrs = node.filter((f) => f.field === 5).map((f) => decodeFields(f.value as Uint8Array));
    const alpha = attrs[0] as ReturnType<typeof decodeFields>;
    const fbits = alpha.find((f) => f.field === 2);
    expect(fbits?.wire).toBe(5);
    const dv = new DataView(new ArrayBuffer(4));
    dv.setUint32(0, Number(fbits?.value), true);
    expect(dv.getFloat32(0, true)).toBe(0.5);
    const n = (attrs[1] as ReturnType<typeof decodeFields>).find((f) => f.field === 3);
    expect(BigInt.asIntN(64, n?.value as bigint)).toBe(-3n);
    const init = decodeFields(graph.find((f) => f.field === 5)?.value as Uint8Array);
    const raw = init.find((f) => f.field === 9)?.value as Uint8Array;
    const vals = new BigInt64Array(raw.slice().buffer);
    expect([...vals]).toEqual([2n ** 40n, -1n]);
    expect(floatTensor('f', [3], [1, 2, 3]).raw.byteLength).toBe(12);
  });

  it('layout transposes are inverse', () => {
    const s = { batch: 2, heads: 3, seqLen: 5, headDim: 4, causal: false };
    const x = Float32Array.from({ length: 2 * 3 * 5 * 4 }, (_, i) => i);
    expect([...bshToBhsd(bhsdToBsh(x, s), s)]).toEqual([...x]);
  });

  it('half conversions round to nearest even and convert back exactly', () => {
    // bf16 keeps 8 significand bits (ulp 2^-7 at 1): half-ulp ties go to the even neighbour
    const ulp = 2 ** -7;
    const bf = fromBf16Bits(
      toBf16Bits([
        1,
        1 + ulp / 2,
        1 + (3 * ulp) / 2,
        1 + ulp / 2 + 2 ** -20,
        -2.5,
        65504 * 4,
        Infinity,
        -0,
      ]),
    );
    expect([...bf]).toEqual([1, 1, 1 + 2 * ulp, 1 + ulp, -2.5, 262144, Infinity, -0]);
    expect(Number.isNaN(fromBf16Bits(toBf16Bits([NaN]))[0])).toBe(true);
    // fp16: 11 significand bits, max 65504, 1 + 2^-11 ties to 1
    const h = fromFp16Bits(toFp16Bits([1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 1e5, 2 ** -24]));
    expect([...h]).toEqual([1, 1, 1 + 2 ** -9, 65504, Infinity, 2 ** -24]);
    // values already representable survive a round trip bit for bit (the frameworks' inputs)
    const x = fromBf16Bits(
      toBf16Bits(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3)),
    );
    expect([...fromBf16Bits(toBf16Bits(x))]).toEqual([...x]);
  });

  it('fp16 and bf16 graphs carry their element type in inputs, output and constants', () => {
    for (const [dtype, code] of [
      ['fp16', 10],
      ['bf16', 16],
    ] as const) {
      const bytes = matmulAttentionModel({
        batch: 1,
        heads: 2,
        seqLen: 8,
        headDim: 8,
        causal: true,
        dtype,
      });
      const graph = decodeFields(
        decodeFields(bytes).find((f) => f.field === 7)?.value as Uint8Array,
      );
      // initializers (field 5): TensorProto.data_type is field 2
      const inits = graph
        .filter((f) => f.field === 5)
        .map((f) => decodeFields(f.value as Uint8Array));
      const scale = inits.find(
        (t) => td.decode(t.find((f) => f.field === 8)?.value as Uint8Array) === 'scale',
      );
      expect(scale?.find((f) => f.field === 2)?.value).toBe(BigInt(code));
      const raw = scale?.find((f) => f.field === 9)?.value as Uint8Array;
      expect(raw.byteLength).toBe(2);
      const bits = new Uint16Array(raw.slice().buffer);
      const back = dtype === 'fp16' ? fromFp16Bits(bits)[0] : fromBf16Bits(bits)[0];
      expect(Math.abs((back as number) - 1 / Math.sqrt(8))).toBeLessThan(
        dtype === 'fp16' ? 2e-4 : 2e-3,
      );
    }
  });
});

let binding: NativeBinding | null = null;
let skipReason: string | null = null;
try {
  binding = loadBinding();
} catch (e) {
  skipReason = `native addon unavailable: ${(e as Error).message.split('\n')[0]}`;
}
const ort = await loadOnnxRuntime();
if (!skipReason && typeof ort === 'string') skipReason = ort;
if (skipReason) console.warn(`onnxruntime agreement tests skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)('onnxruntime-node runs the generated models', () => {
  const cases: Array<{ graph: 'mha' | 'matmul'; causal: boolean; batch: number }> = [
    { graph: 'mha', causal: false, batch: 1 },
    { graph: 'mha', causal: true, batch: 2 },
    { graph: 'matmul', causal: false, batch: 2 },
    { graph: 'matmul', causal: true, batch: 1 },
  ];
  for (const c of cases) {
    it(`${c.graph} ${c.causal ? 'causal' : 'non-causal'} equals dilbench flash within 1e-4`, async () => {
      const b = binding as NativeBinding;
      const spec: FrameworkSpec = {
        batch: c.batch,
        heads: 3,
        seqLen: 77,
        headDim: 32,
        causal: c.causal,
        threads: 1,
        implementation: 'flash',
        dtype: 'fp32',
        seed: 7,
      };
      const d = await DilbenchAdapter.create(b, spec);
      const inputs = await seededInputs(b, spec);
      // the seeded inputs every framework gets are the dilbench session's own
      expect(outputDifference(inputs.q, d.inputs().q).maxAbsError).toBe(0);
      expect(outputDifference(inputs.v, d.inputs().v).maxAbsError).toBe(0);
      const o = await OnnxRuntimeAdapter.create(spec, inputs, c.graph);
      if ('skipped' in o) throw new Error(o.reason);
      const times = await o.sampler.sample(2, false);
      expect(times).toHaveLength(2);
      expect(times[0]).toBeGreaterThan(0);
      const diff = outputDifference(await o.output(), await d.output());
      expect(diff.maxAbsError).toBeLessThan(1e-4);
      expect(diff.relL2Error).toBeLessThan(1e-4);
      expect(o.peakMemory().kind).toBe('rss-delta');
      await o.dispose();
      await d.dispose();
    });
  }

  it('fp16: MultiHeadAttention and MatMul graphs agree with dilbench flash (fp16 storage) within the fp16 partner tolerance', async () => {
    const b = binding as NativeBinding;
    for (const graph of ['mha', 'matmul'] as const) {
      const spec: FrameworkSpec = {
        batch: 1,
        heads: 2,
        seqLen: 65,
        headDim: 32,
        causal: true,
        threads: 1,
        implementation: 'flash',
        dtype: 'fp16',
        seed: 11,
      };
      const d = await DilbenchAdapter.create(b, spec);
      const inputs = await seededInputs(b, spec);
      // dilbench hands out the values it stores: already fp16, so every framework stores the same
      expect([...fromFp16Bits(toFp16Bits(inputs.k))]).toEqual([...inputs.k]);
      const o = await OnnxRuntimeAdapter.create(spec, inputs, graph);
      if ('skipped' in o) throw new Error(o.reason);
      const out = await o.output();
      const v = validationOf(
        'dilbench:flash',
        errors(out, await d.output()),
        toleranceFor('fp16', {}, true),
        'fp16',
      );
      expect(v.passed, JSON.stringify(v)).toBe(true);
      // and it is really fp16: not bit-identical to an fp32 run of the same values
      expect(v.maxAbsError).toBeGreaterThan(0);
      await o.dispose();
      await d.dispose();
    }
  });

  it('bf16: a graph the CPU provider has no kernel for is a skip quoting onnxruntime, not a failure', async () => {
    const b = binding as NativeBinding;
    const spec: FrameworkSpec = {
      batch: 1,
      heads: 2,
      seqLen: 16,
      headDim: 16,
      causal: false,
      threads: 1,
      implementation: 'flash',
      dtype: 'bf16',
      seed: 1,
    };
    const inputs = await seededInputs(b, spec);
    const o = await OnnxRuntimeAdapter.create(spec, inputs, 'mha');
    if ('skipped' in o) {
      expect(o.reason).toMatch(
        /^onnxruntime-node [\d.]+ CPU has no bf16 kernel for this graph: Could not find an implementation/,
      );
    } else {
      // a later onnxruntime with bf16 kernels: then it must agree like any other framework
      const d = await DilbenchAdapter.create(b, spec);
      const v = validationOf(
        'dilbench:flash',
        errors(await o.output(), await d.output()),
        toleranceFor('bf16', {}, true),
        'bf16',
      );
      expect(v.passed).toBe(true);
      await o.dispose();
      await d.dispose();
    }
  });

  it('the models are plain bytes InferenceSession.create accepts', async () => {
    const m = ort as Exclude<typeof ort, string>;
    const s = { batch: 1, heads: 2, seqLen: 8, headDim: 8, causal: true };
    for (const bytes of [multiHeadAttentionModel(s), matmulAttentionModel(s)]) {
      const sess = await m.InferenceSession.create(bytes);
      expect(sess).toBeTruthy();
      await sess.release?.();
    }
  });
});
