// safetensors files (the format model hubs distribute): an 8-byte little-endian header length N,
// N bytes of JSON header { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? },
// then the data. F32 tensors are read as is; F16 and BF16 are converted to fp32. Every problem is
// a SafetensorsError naming the file and, where it applies, the tensor.
import { readFileSync, writeFileSync } from 'node:fs';

export const SAFETENSORS_ERROR = 'ERR_DILBENCH_SAFETENSORS';

export class SafetensorsError extends Error {
  readonly code = SAFETENSORS_ERROR;
  constructor(
    message: string,
    readonly tensor?: string,
  ) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  /** dtype each tensor had in the file (data is always fp32) */
  dtypes: Record<string, SafetensorsDtype>;
  metadata: Record<string, string>;
}

/** Largest header accepted (the reference implementation uses 100 MB). */
const MAX_HEADER = 100_000_000;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Reads a safetensors file (path or bytes); `label` names it in errors; `skip` leaves tensors out unread. */
export function readSafetensors(
  source: string | Uint8Array,
  label?: string,
  options: { skip?: (name: string) => boolean } = {},
): SafetensorsFile {
  const what = label ?? (typeof source === 'string' ? source : 'safetensors data');
  let buf: Buffer;
  if (typeof source === 'string') {
    try {
      buf = readFileSync(source);
    } catch (e) {
      throw new SafetensorsError(`${what}: cannot read: ${(e as Error).message}`);
    }
  } else {
    buf = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  }
  if (buf.length < 8)
    throw new SafetensorsError(
      `${what}: ${buf.length} bytes, too short for the 8-byte header length`,
    );
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(Math.min(MAX_HEADER, buf.length - 8))) {
    throw new SafetensorsError(
      `${what}: header length ${n} exceeds the file (${buf.length} bytes) or the ${MAX_HEADER}-byte limit; not a safetensors file?`,
    );
  }
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (e) {
    throw new SafetensorsError(`${what}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(`${what}: header is not a JSON object`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const out: SafetensorsFile = { tensors: {}, dtypes: {}, metadata: {} };
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry && typeof entry === 'object') {
        for (const [k, v] of Object.entries(entry as Record<string, unknown>))
          out.metadata[k] = String(v);
      }
      continue;
    }
    const t = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const bad = (why: string): SafetensorsError =>
      new SafetensorsError(`${what}: tensor "${name}": ${why}`, name);
    if (!t || typeof t !== 'object') throw bad('header entry is not an object');
    if (options.skip?.(name)) continue; // not needed (e.g. a bool attention-mask buffer): any dtype
    const dtype = t.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw bad(`dtype ${JSON.stringify(dtype)} is not supported (allowed: F32, F16, BF16)`);
    }
    const shape = t.shape;
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const offs = t.data_offsets;
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
    ) {
      throw bad(`data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin || end > dataLen) {
      throw bad(`data_offsets [${begin}, ${end}] lie outside the ${dataLen} data bytes`);
    }
    const elems = (shape as number[]).reduce((a, b) => a * b, 1);
    const bytes = DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== elems * bytes) {
      throw bad(
        `shape ${JSON.stringify(shape)} (${elems} x ${dtype}) needs ${elems * bytes} bytes, data_offsets give ${end - begin}`,
      );
    }
    const raw = buf.subarray(dataStart + begin, dataStart + end);
    const data = new Float32Array(elems);
    if (dtype === 'F32') {
      for (let i = 0; i < elems; i++) data[i] = raw.readFloatLE(i * 4);
    } else if (dtype === 'F16') {
      for (let i = 0; i < elems; i++) data[i] = halfToFloat(raw.readUInt16LE(i * 2));
    } else {
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < elems; i++) {
        u[0] = raw.readUInt16LE(i * 2) << 16;
        data[i] = f[0] as number;
      }
    }
    out.tensors[name] = { shape: [...(shape as number[])], data };
    out.dtypes[name] = dtype as SafetensorsDtype;
  }
  return out;
}

/** Serialises fp32 tensors as a safetensors file (used by tests and to export synthetic weights). */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name] as Tensor;
    const elems = t.shape.reduce((a, b) => a * b, 1);
    if (elems !== t.data.length)
      throw new SafetensorsError(
        `tensor "${name}": shape ${JSON.stringify(t.shape)} has ${elems} elements, data ${t.data.length}`,
        name,
      );
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + elems * 4] };
    off += elems * 4;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' '; // alignment, as the reference writer does
  const hb = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hb.length + off);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  let p = 8 + hb.length;
  for (const name of names) {
    const t = tensors[name] as Tensor;
    for (let i = 0; i < t.data.length; i++, p += 4) out.writeFloatLE(t.data[i] as number, p);
  }
  return out;
}

export function writeSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  writeFileSync(path, encodeSafetensors(tensors, metadata));
}
