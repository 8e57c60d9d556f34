import { inflateSync } from 'node:zlib';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultFile } from '../../src/results/types.js';
import { toHistoryEntries } from '../../src/history/index.js';
import { loadResultFiles } from '../../src/reports/report/index.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/results/', import.meta.url));

export function loadFixture(prefix: string): ResultFile {
  const name = readdirSync(FIXTURE_DIR).find((f) => f.startsWith(prefix) && f.endsWith('.json'));
  if (!name) throw new Error(`no fixture ${prefix}`);
  return JSON.parse(readFileSync(join(FIXTURE_DIR, name), 'utf8')) as ResultFile;
}

/** Parse width and height from a PNG's IHDR chunk. */
export function pngSize(buf: Buffer): { width: number; height: number } {
  const sig = buf.subarray(0, 8).toString('hex');
  if (sig !== '89504e470d0a1a0a') throw new Error('not a PNG');
  if (buf.subarray(12, 16).toString('ascii') !== 'IHDR') throw new Error('no IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/**
 * Decode an 8-bit RGBA / RGB non-interlaced PNG (what resvg writes) into raw pixels.
 * Small and strict on purpose: it proves the file decodes, it is not a general PNG reader.
 */
export function decodePng(buf: Buffer): {
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
} {
  const { width, height } = pngSize(buf);
  const bitDepth = buf[24];
  const colorType = buf[25];
  const interlace = buf[28];
  if (bitDepth !== 8 || interlace !== 0 || (colorType !== 6 && colorType !== 2)) {
    throw new Error(
      `unsupported PNG: depth ${bitDepth} colour ${colorType} interlace ${interlace}`,
    );
  }
  const channels = colorType === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  let off = 8;
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.subarray(off + 4, off + 8).toString('ascii');
    if (type === 'IDAT') idat.push(buf.subarray(off + 8, off + 8 + len));
    if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error(`bad IDAT length ${raw.length}`);
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels]! : 0; // indices in range: raw's length is checked above
      const b = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels]! : 0;
      let v = line[x]!;
      switch (filter) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a),
            pb = Math.abs(p - b),
            pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`bad filter ${filter}`);
      }
      out[y * stride + x] = v & 0xff;
    }
  }
  return { width, height, channels, pixels: out };
}

export function variance(values: Uint8Array): number {
  let sum = 0;
  let sq = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / values.length;
  return sq / values.length - mean * mean;
}

/** A results directory like a user's: the fixture files plus a history.jsonl built from them, with a torn last line. */
export function makeResultsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dilbench-results-'));
  cpSync(FIXTURE_DIR, dir, { recursive: true });
  // the lines appendHistory writes (without its lock: nothing else writes this fresh directory)
  for (const f of loadResultFiles(dir).files)
    appendFileSync(
      join(dir, 'history.jsonl'),
      toHistoryEntries(f.file)
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n',
    );
  appendFileSync(join(dir, 'history.jsonl'), '{"runId":"torn-by-a-crash","row":{"impl');
  return dir;
}
