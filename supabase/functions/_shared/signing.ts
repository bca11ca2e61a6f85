// Webhook signatures, the TypeScript side of worker/signing.py (same headers, same signed string):
//   X-Ops-Timestamp: <unix seconds>
//   X-Ops-Delivery:  <delivery id, 1-128 of A-Z a-z 0-9 _ ->
//   X-Ops-Signature: v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<raw body>")>
// The delivery id cannot contain ".", so the signed string splits one way only. Several
// comma-separated v1= values are allowed (secret rotation); one match is enough.
//
// Replay versus re-delivery: the sender signs every attempt afresh (never the same timestamp twice
// for one delivery id), so with a ReplayCache a delivery id seen again with a timestamp already
// accepted is a replay (SignatureInvalid "replayed"), and with a new valid signature it is the sender
// re-delivering (duplicate: true; acknowledge it without processing it again).

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

export type Seen = "new" | "duplicate" | "replayed";

/** Delivery ids accepted recently, with the timestamps they were accepted with, each id remembered
 * until its latest timestamp leaves the window. In memory, per isolate: the timestamp tolerance
 * bounds what a replay to another isolate could do. Only verified deliveries enter it. */
export class ReplayCache {
  #seen = new Map<string, { expiresAt: number; stamps: Set<number> }>();
  constructor(readonly maxEntries = 100_000) {}

  remember(deliveryId: string, timestamp: number, expiresAt: number, now: number): Seen {
    for (const [id, entry] of this.#seen) {
      if (entry.expiresAt > now && this.#seen.size < this.maxEntries) break;
      this.#seen.delete(id);
    }
    const entry = this.#seen.get(deliveryId);
    const stamps = entry && entry.expiresAt > now ? entry.stamps : new Set<number>();
    if (stamps.has(timestamp)) return "replayed";
    const known = stamps.size > 0;
    stamps.add(timestamp);
    this.#seen.delete(deliveryId); // re-insert: Map order is the eviction order
    this.#seen.set(deliveryId, { expiresAt: Math.max(entry?.expiresAt ?? 0, expiresAt), stamps });
    return known ? "duplicate" : "new";
  }

  get size(): number {
    return this.#seen.size;
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

const lastSigned = new Map<string, number>();

/** Now, but later than any timestamp this isolate already signed the delivery id with. */
function freshTimestamp(deliveryId: string): number {
  const now = Math.trunc(Date.now() / 1000);
  const ts = Math.max(now, (lastSigned.get(deliveryId) ?? now - 1) + 1);
  lastSigned.delete(deliveryId);
  lastSigned.set(deliveryId, ts);
  if (lastSigned.size > 10_000) lastSigned.delete(lastSigned.keys().next().value!);
  return ts;
}

/** The three headers for one attempt to deliver body; without timestamp, each call for the same
 * delivery id gets a later timestamp than the last. */
export async function sign(
  secret: string | Uint8Array,
  body: Uint8Array,
  deliveryId: string,
  timestamp?: number,
): Promise<Record<string, string>> {
  if (!DELIVERY_ID.test(deliveryId)) {
    throw new RangeError("deliveryId must be 1-128 characters of A-Z a-z 0-9 _ -");
  }
  const ts = String(Math.trunc(timestamp ?? freshTimestamp(deliveryId)));
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

/** Resolves if the headers sign body with secret freshly (and, with seen, are not a replay);
 * otherwise rejects with SignatureInvalid. crypto.subtle.verify compares in constant time. With
 * seen, a re-delivery of an id already accepted resolves with duplicate: true. */
export async function verify(
  secret: string | Uint8Array,
  body: Uint8Array,
  headers: Headers,
  opts: VerifyOptions = {},
): Promise<{ deliveryId: string; timestamp: number; duplicate: boolean }> {
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
  const seen = opts.seen?.remember(deliveryId, timestamp, timestamp + tolerance, now) ?? "new";
  if (seen === "replayed") {
    throw new SignatureInvalid(
      "replayed",
      `delivery ${deliveryId} with timestamp ${ts} was already received (a replay: a re-delivery is signed afresh)`,
    );
  }
  return { deliveryId, timestamp, duplicate: seen === "duplicate" };
}
