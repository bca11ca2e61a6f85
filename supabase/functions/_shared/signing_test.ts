import { ReplayCache, sign, SignatureInvalid, verify } from "./signing.ts";
import { assert, assertEquals } from "./testing.ts";

const SECRET = "whsec_test";
const BODY = new TextEncoder().encode('{"id":1}');
// The same vector is in tests/test_signing.py: Python and TypeScript agree byte for byte.
const VECTOR = "v1=af727a81414381b98b7a793c50fd32fa0769d3888c5848bc3370777da1f15c49";

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SignatureInvalid) return e.reason;
    throw e;
  }
  return "accepted";
}

Deno.test("the shared test vector", async () => {
  const h = await sign(SECRET, BODY, "d-1", 1700000000);
  assertEquals(h["X-Ops-Signature"], VECTOR);
  const ok = await verify(SECRET, BODY, new Headers(h), { now: 1700000010 });
  assertEquals(ok, { deliveryId: "d-1", timestamp: 1700000000, duplicate: false });
});

Deno.test("tampering, wrong secrets, stale timestamps and replays are refused", async () => {
  const now = 1700000000;
  const h = new Headers(await sign(SECRET, BODY, "d-2", now));
  const other = new TextEncoder().encode('{"id":2}');
  assertEquals(await reason(verify(SECRET, other, h, { now })), "bad_signature");
  assertEquals(await reason(verify("other", BODY, h, { now })), "bad_signature");
  assertEquals(await reason(verify(SECRET, BODY, h, { now: now + 301 })), "expired");
  assertEquals(await reason(verify(SECRET, BODY, h, { now: now - 301 })), "expired");
  const missing = new Headers(h);
  missing.delete("x-ops-signature");
  assertEquals(await reason(verify(SECRET, BODY, missing, { now })), "missing_header");
  const dotted = new Headers(h);
  dotted.set("x-ops-delivery", "a.b");
  assertEquals(await reason(verify(SECRET, BODY, dotted, { now })), "bad_delivery_id");
  const badTs = new Headers(h);
  badTs.set("x-ops-timestamp", "1e9");
  assertEquals(await reason(verify(SECRET, BODY, badTs, { now })), "bad_timestamp");
});

Deno.test("a rotated secret: any of several v1 signatures may match", async () => {
  const now = 1700000000;
  const oldH = await sign("old", BODY, "d-3", now);
  const newH = await sign("new", BODY, "d-3", now);
  const h = new Headers(newH);
  h.set("x-ops-signature", `${oldH["X-Ops-Signature"]}, ${newH["X-Ops-Signature"]}`);
  assertEquals(await reason(verify("old", BODY, h, { now })), "accepted");
  assertEquals(await reason(verify("new", BODY, h, { now })), "accepted");
  assertEquals(await reason(verify("neither", BODY, h, { now })), "bad_signature");
});

Deno.test("a replay is refused; a fresh re-delivery of the same id is a duplicate", async () => {
  const now = 1700000000;
  const seen = new ReplayCache();
  const first = new Headers(await sign(SECRET, BODY, "d-2", now));
  const duplicate = async (h: Headers, at: number) =>
    (await verify(SECRET, BODY, h, { now: at, seen })).duplicate;
  assertEquals(await duplicate(first, now), false);
  assertEquals(await reason(verify(SECRET, BODY, first, { now: now + 5, seen })), "replayed");
  const again = new Headers(await sign(SECRET, BODY, "d-2", now + 30));
  assertEquals(await duplicate(again, now + 30), true);
  assertEquals(await reason(verify(SECRET, BODY, again, { now: now + 31, seen })), "replayed");
  assertEquals(await reason(verify(SECRET, BODY, first, { now: now + 32, seen })), "replayed");
  const forged = new Headers(again);
  forged.set("x-ops-delivery", "d-3");
  assertEquals(await reason(verify(SECRET, BODY, forged, { now, seen })), "bad_signature");
  assertEquals(seen.size, 1, "a forgery never enters the cache");
});

Deno.test("sign never gives one delivery id the same timestamp twice", async () => {
  const seen = new ReplayCache();
  const stamps = new Set<string>();
  for (const expected of [false, true, true]) {
    const h = await sign(SECRET, BODY, "d-fast");
    stamps.add(h["X-Ops-Timestamp"]);
    assertEquals((await verify(SECRET, BODY, new Headers(h), { seen })).duplicate, expected);
  }
  assertEquals(stamps.size, 3);
});

Deno.test("the replay cache forgets ids once their window has passed and stays bounded", () => {
  const c = new ReplayCache(2);
  assertEquals(c.remember("a", 1, 10, 0), "new");
  assertEquals(c.remember("a", 1, 10, 5), "replayed");
  assertEquals(c.remember("a", 2, 11, 5), "duplicate");
  assertEquals(c.remember("a", 1, 30, 12), "new");
  c.remember("b", 1, 40, 12);
  c.remember("c", 1, 40, 12);
  assert(c.size <= 2);
});
