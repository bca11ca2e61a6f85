// Webhook signatures, the TypeScript side of worker/signing.py (same headers, same signed string):
//   X-Ops-Timestamp: <unix seconds>
//   X-Ops-Delivery:  <delivery id, 1-128 of A-Z a-z 0-9 _ ->
//   X-Ops-Signature: v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<raw body>")>
// The delivery id cannot contain ".", so the signed string splits one way only. Several
// comma-separated v1= values are allowed (secret rotation); one match is enough.

export const DEFAULT_TOLERANCE = 300;
const DELIVERY_ID = /^[A-Za-z0-9_-]{1,128}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();

export type SignatureReason =
  | "missing_header"
  | "bad_delivery_id"
  | "bad_timestamp"
  | "expired"
  | "bad_signature"
  | "replayed";

export class SignatureInvalid extends Error {
  constructor(readonly reason: SignatureReason, message: string) {
    super(message);
    this.name = "SignatureInvalid";
  }
}

/** Delivery ids accepted recently, each remembered until its timestamp leaves the window. In
 * memory, per isolate: the timestamp tolerance bounds what a replay to another isolate could do. */
export class ReplayCache {
  #expiry = new Map<string, number>();
  constructor(readonly maxEntries = 100_000) {}

  checkAndAdd(deliveryId: string, expiresAt: number, now: number): boolean {
    for (const [id, when] of this.#expiry) {
      if (when > now && this.#expiry.size < this.maxEntries) break;
      this.#expiry.delete(id);
    }
    if ((this.#expiry.get(deliveryId) ?? 0) > now) return false;
    this.#expiry.delete(deliveryId);
    this.#expiry.set(deliveryId, expiresAt);
    return true;
  }

  get size(): number {
    return this.#expiry.size;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function hmacKey(secret: string | Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  const raw = typeof secret === "string" ? encoder.encode(secret) : secret;
  return crypto.subtle.importKey(
    "raw",
    concat(raw),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [usage],
  );
}

function signedBytes(
  timestamp: string,
  deliveryId: string,
  body: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return concat(encoder.encode(`${timestamp}.${deliveryId}.`), body);
}

/** The three headers for one delivery of body. */
export async function sign(
  secret: string | Uint8Array,
  body: Uint8Array,
  deliveryId: string,
  timestamp?: number,
): Promise<Record<string, string>> {
  if (!DELIVERY_ID.test(deliveryId)) {
    throw new RangeError("deliveryId must be 1-128 characters of A-Z a-z 0-9 _ -");
  }
  const ts = String(Math.trunc(timestamp ?? Date.now() / 1000));
  const key = await hmacKey(secret, "sign");
  const mac = await crypto.subtle.sign("HMAC", key, signedBytes(ts, deliveryId, body));
  return {
    "X-Ops-Timestamp": ts,
    "X-Ops-Delivery": deliveryId,
    "X-Ops-Signature": `v1=${hex(mac)}`,
  };
}

export interface VerifyOptions {
  tolerance?: number;
  now?: number; // unix seconds
  seen?: ReplayCache;
}

/** Resolves if the headers sign body with secret, freshly and for the first time; otherwise
 * rejects with SignatureInvalid. crypto.subtle.verify compares in constant time. */
export async function verify(
  secret: string | Uint8Array,
  body: Uint8Array,
  headers: Headers,
  opts: VerifyOptions = {},
): Promise<{ deliveryId: string; timestamp: number }> {
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const now = opts.now ?? Date.now() / 1000;
  const ts = headers.get("x-ops-timestamp")?.trim();
  const deliveryId = headers.get("x-ops-delivery")?.trim();
  const signature = headers.get("x-ops-signature")?.trim();
  if (!ts) throw new SignatureInvalid("missing_header", "X-Ops-Timestamp header is missing");
  if (!deliveryId) throw new SignatureInvalid("missing_header", "X-Ops-Delivery header is missing");
  if (!signature) throw new SignatureInvalid("missing_header", "X-Ops-Signature header is missing");
  if (!DELIVERY_ID.test(deliveryId)) {
    throw new SignatureInvalid(
      "bad_delivery_id",
      "X-Ops-Delivery must be 1-128 characters of A-Z a-z 0-9 _ -",
    );
  }
  if (!/^[0-9]{1,12}$/.test(ts)) {
    throw new SignatureInvalid("bad_timestamp", "X-Ops-Timestamp must be unix seconds");
  }
  const timestamp = Number(ts);
  if (Math.abs(now - timestamp) > tolerance) {
    throw new SignatureInvalid(
      "expired",
      `X-Ops-Timestamp is more than ${tolerance}s from the receiver's clock`,
    );
  }
  const key = await hmacKey(secret, "verify");
  const data = signedBytes(ts, deliveryId, body);
  let matched = false;
  for (const part of signature.split(",")) {
    const [version, value] = part.trim().split("=", 2);
    if (version === "v1" && value && HEX64.test(value)) {
      // every candidate is checked, so the time taken does not say which one matched
      matched = (await crypto.subtle.verify("HMAC", key, unhex(value), data)) || matched;
    }
  }
  if (!matched) {
    throw new SignatureInvalid("bad_signature", "X-Ops-Signature does not match the body");
  }
  if (opts.seen && !opts.seen.checkAndAdd(deliveryId, timestamp + tolerance, now)) {
    throw new SignatureInvalid("replayed", `delivery ${deliveryId} was already received`);
  }
  return { deliveryId, timestamp };
}
