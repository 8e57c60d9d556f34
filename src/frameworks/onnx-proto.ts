// A tiny protobuf writer for the handful of ONNX messages dilbench needs to build attention graphs
// in process (ModelProto, GraphProto, NodeProto, ValueInfoProto, TypeProto, TensorProto,
// AttributeProto, OperatorSetIdProto). Only varint (wire type 0), 32-bit (5, for float
// attributes) and length-delimited (2) fields. Field numbers follow onnx/onnx.proto.

/** Growable byte buffer with protobuf primitives. */
class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** unsigned or negative (two's complement, 10 bytes) varint of an integer that fits a double */
  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) b |= 0x80;
      this.byte(b);
    } while (v !== 0n);
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const enc = new TextEncoder();

/** field builder: each message is encoded straight to bytes */
class Msg {
  private w = new Writer();

  int(field: number, v: number | bigint): this {
    this.w.tag(field, 0);
    this.w.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.w.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.w.bytes(b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.w.tag(field, 2);
    this.w.varint(data.length);
    this.w.bytes(data);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, enc.encode(s));
  }

  msg(field: number, m: Msg | Uint8Array): this {
    return this.bytes(field, m instanceof Msg ? m.finish() : m);
  }

  /** packed repeated varints */
  packed(field: number, values: readonly (number | bigint)[]): this {
    const inner = new Writer();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.w.finish();
  }
}

/** ONNX TensorProto.DataType values used here */
export const OnnxDataType = { FLOAT: 1, BOOL: 9, INT64: 7, FLOAT16: 10, BFLOAT16: 16 } as const;
export type OnnxDataTypeValue = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** ONNX AttributeProto.AttributeType values used here */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'tensor'; value: OnnxTensor };

export interface OnnxTensor {
  name?: string;
  dims: number[];
  dataType: OnnxDataTypeValue;
  /** little-endian raw bytes (raw_data) */
  raw: Uint8Array;
}

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** '' (default ONNX domain) or 'com.microsoft' */
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: OnnxDataTypeValue;
  /** numbers are fixed dims; strings are symbolic dims */
  shape: Array<number | string>;
}

export interface OnnxModel {
  graphName: string;
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers?: OnnxTensor[];
  /** opset per domain, e.g. { '': 17, 'com.microsoft': 1 } */
  opsets: Record<string, number>;
  /** default 8 */
  irVersion?: number;
  producerName?: string;
}

function tensorMsg(t: OnnxTensor): Msg {
  const m = new Msg();
  if (t.dims.length > 0) m.packed(1, t.dims);
  m.int(2, t.dataType);
  if (t.name) m.str(8, t.name);
  m.bytes(9, t.raw);
  return m;
}

function attributeMsg(name: string, a: AttributeValue): Msg {
  const m = new Msg().str(1, name);
  switch (a.kind) {
    case 'float':
      m.float(2, a.value).int(20, AttrType.FLOAT);
      break;
    case 'int':
      m.int(3, a.value).int(20, AttrType.INT);
      break;
    case 'string':
      m.str(4, a.value).int(20, AttrType.STRING);
      break;
    case 'tensor':
      m.msg(5, tensorMsg(a.value)).int(20, AttrType.TENSOR);
      break;
    case 'ints':
      m.packed(8, a.value).int(20, AttrType.INTS);
      break;
  }
  return m;
}

function nodeMsg(n: OnnxNode, index: number): Msg {
  const m = new Msg();
  for (const i of n.inputs) m.str(1, i);
  for (const o of n.outputs) m.str(2, o);
  m.str(3, n.name ?? `${n.opType}_${index}`);
  m.str(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) m.msg(5, attributeMsg(k, v));
  if (n.domain) m.str(7, n.domain);
  return m;
}

function valueInfoMsg(v: OnnxValueInfo): Msg {
  const shape = new Msg();
  for (const d of v.shape) {
    const dim = new Msg();
    if (typeof d === 'number') dim.int(1, d);
    else dim.str(2, d);
    shape.msg(1, dim);
  }
  const tensorType = new Msg().int(1, v.elemType).msg(2, shape);
  const type = new Msg().msg(1, tensorType);
  return new Msg().str(1, v.name).msg(2, type);
}

/** Serialises a model to ONNX protobuf bytes (what InferenceSession.create accepts). */
export function encodeModel(model: OnnxModel): Uint8Array {
  const g = new Msg();
  model.nodes.forEach((n, i) => g.msg(1, nodeMsg(n, i)));
  g.str(2, model.graphName);
  for (const t of model.initializers ?? []) g.msg(5, tensorMsg(t));
  for (const v of model.inputs) g.msg(11, valueInfoMsg(v));
  for (const v of model.outputs) g.msg(12, valueInfoMsg(v));
  const m = new Msg().int(1, model.irVersion ?? 8);
  m.str(2, model.producerName ?? 'dilbench');
  for (const [domain, version] of Object.entries(model.opsets)) {
    const op = new Msg();
    if (domain) op.str(1, domain);
    op.int(2, version);
    m.msg(8, op);
  }
  m.msg(7, g);
  return m.finish();
}

/** raw little-endian bytes of float32 values */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): OnnxTensor {
  const f = Float32Array.from(values);
  return {
    name,
    dims,
    dataType: OnnxDataType.FLOAT,
    raw: new Uint8Array(f.buffer, f.byteOffset, f.byteLength),
  };
}

/** a tensor of 16-bit floats from their bit patterns (fp16 or bf16) */
export function halfTensor(
  name: string,
  dims: number[],
  dataType: typeof OnnxDataType.FLOAT16 | typeof OnnxDataType.BFLOAT16,
  bits: Uint16Array,
): OnnxTensor {
  return {
    name,
    dims,
    dataType,
    raw: new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength),
  };
}

/** raw little-endian bytes of int64 values */
export function int64Tensor(name: string, dims: number[], values: readonly number[]): OnnxTensor {
  const a = BigInt64Array.from(values.map((v) => BigInt(v)));
  return {
    name,
    dims,
    dataType: OnnxDataType.INT64,
    raw: new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
  };
}

// ---- minimal reader, for tests: decodes the top-level fields of a message ----

export interface DecodedField {
  field: number;
  wire: number;
  /** varint / fixed32 value as bigint, or the bytes of a length-delimited field */
  value: bigint | Uint8Array;
}

/** Decodes one message level (no schema): every field with its wire type and raw value. */
export function decodeFields(bytes: Uint8Array): DecodedField[] {
  const out: DecodedField[] = [];
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= bytes.length) throw new RangeError('truncated varint');
      const b = bytes[pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < bytes.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, value: readVarint() });
    else if (wire === 2) {
      const n = Number(readVarint());
      if (pos + n > bytes.length) throw new RangeError('truncated length-delimited field');
      out.push({ field, wire, value: bytes.subarray(pos, pos + n) });
      pos += n;
    } else if (wire === 5) {
      if (pos + 4 > bytes.length) throw new RangeError('truncated fixed32');
      out.push({
        field,
        wire,
        value: BigInt(new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getUint32(0, true)),
      });
      pos += 4;
    } else throw new RangeError(`unsupported wire type ${wire}`);
  }
  return out;
}
