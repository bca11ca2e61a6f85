// Reading request bodies with a hard limit, and the media types the functions accept.

export class TooLarge extends Error {}

/** The body's bytes, refusing (TooLarge) as soon as more than limit bytes arrive or are announced. */
export async function readLimited(req: Request, limit: number): Promise<Uint8Array> {
  const announced = Number(req.headers.get("content-length") ?? "0");
  if (Number.isFinite(announced) && announced > limit) throw new TooLarge();
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new TooLarge();
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** "application/json", "application/problem+json" and other "+json" types; null otherwise. */
export function jsonMediaType(header: string | null): string | null {
  const type = (header ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/json" || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type)) {
    return type;
  }
  return null;
}

/** Nesting depth of a JSON value, iteratively (a deep document must not exhaust the stack). Stops
 * counting once past limit. */
export function depth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [node, d] = stack.pop()!;
    if (d > deepest) deepest = d;
    if (deepest > limit) return deepest;
    if (node !== null && typeof node === "object") {
      for (const child of Object.values(node as Record<string, unknown>)) {
        stack.push([child, d + 1]);
      }
    }
  }
  return deepest;
}

/** Every string (keys too) made storable: NUL becomes U+2400, lone surrogates U+FFFD. */
export function cleanJson(value: unknown): unknown {
  if (typeof value === "string") return value.replaceAll("\u0000", "\u2400").toWellFormed();
  if (Array.isArray(value)) return value.map(cleanJson);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k.replaceAll("\u0000", "\u2400").toWellFormed()] = cleanJson(v);
    }
    return out;
  }
  return value;
}
