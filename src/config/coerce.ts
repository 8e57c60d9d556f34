// Coercions applied before zod validation: CLI values arrive as strings, API values as numbers,
// booleans and arrays; both forms validate the same way.

/** "42", " 1e9 " -> numbers; anything else unchanged (zod then names what is allowed) */
export function toNumber(v: unknown): unknown {
  if (typeof v === 'string' && /^\s*[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?\s*$/i.test(v))
    return Number(v);
  return v;
}

/** "true" | "yes" | "on" | "1" -> true; "false" | "no" | "off" | "0" -> false */
export function toBoolean(v: unknown): unknown {
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
  }
  return v;
}

/** "a,b c" or ["a,b", "c"] -> ["a", "b", "c"] */
export function splitList(v: unknown): unknown {
  if (typeof v === 'string') v = [v];
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const item of v) {
      if (typeof item === 'string') out.push(...item.split(/[\s,]+/).filter((s) => s.length > 0));
      else out.push(item);
    }
    return out;
  }
  return v;
}
