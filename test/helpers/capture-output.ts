// Runs fn with process.stdout / process.stderr captured (for the CLI run in-process), restoring
// them afterwards: out and err per stream, text both interleaved in write order.
export async function captureOutput<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; out: string; err: string; text: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = (s: string) => (out.push(String(s)), all.push(String(s)), true);
  process.stderr.write = (s: string) => (err.push(String(s)), all.push(String(s)), true);
  try {
    const result = await fn();
    return { result, out: out.join(''), err: err.join(''), text: all.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}
