// Parsing and formatting of lengths ("12K") and byte sizes ("8GiB").

const LENGTH_RE = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$/;

/** "1K" -> 1024, "49K" -> 49152, "1M" -> 1048576, "50000" -> 50000. Returns NaN when not a length. */
export function parseLength(input: string | number): number {
  if (typeof input === 'number') return input;
  const m = LENGTH_RE.exec(input);
  if (!m) return Number.NaN;
  const base = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const mult = unit === 'K' ? 1024 : unit === 'M' ? 1024 * 1024 : 1;
  return base * mult;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** "8GiB" -> 8589934592, "512MiB", "1.5G", "1000000" (bytes). Returns NaN when not a size. */
export function parseByteSize(input: string | number): number {
  if (typeof input === 'number') return input;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  if (!m) return Number.NaN;
  const mult = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (mult === undefined) return Number.NaN;
  return Math.floor(Number(m[1]) * mult);
}

/** 36936357888 -> "34.4 GiB" */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** 12288 -> "12K", 1048576 -> "1M", 50000 -> "50000" */
export function formatLength(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)}M`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}K`;
  return String(n);
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return String(s);
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
