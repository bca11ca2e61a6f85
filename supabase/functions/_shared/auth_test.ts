import { authenticate, AuthError, constantTimeEqual, verifyJwt } from "./auth.ts";
import { assert, assertEquals } from "./testing.ts";

const enc = new TextEncoder();
const b64url = (b: Uint8Array) =>
  btoa(String.fromCharCode(...b)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

async function jwt(claims: Record<string, unknown>, secret: string, alg = "HS256") {
  const head = b64url(enc.encode(JSON.stringify({ alg, typ: "JWT" })));
  const body = b64url(enc.encode(JSON.stringify(claims)));
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(`${head}.${body}`));
  return `${head}.${body}.${b64url(new Uint8Array(sig))}`;
}

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AuthError) return e.message;
    throw e;
  }
  return "accepted";
}

Deno.test("constant-time comparison", async () => {
  assert(await constantTimeEqual("abc", "abc"));
  assert(!(await constantTimeEqual("abc", "abd")));
  assert(!(await constantTimeEqual("abc", "abcd")));
});

Deno.test("JWTs: signature, expiry, algorithm and role are checked", async () => {
  const now = 1_700_000_000;
  const good = await jwt({ role: "service_role", exp: now + 60 }, "s3cret");
  assertEquals((await verifyJwt(good, "s3cret", now)).role, "service_role");
  assert((await refused(verifyJwt(good, "other", now))).includes("signature"));
  assert((await refused(verifyJwt(good, "s3cret", now + 61))).includes("expired"));
  const anon = await jwt({ role: "anon", exp: now + 60 }, "s3cret");
  assert((await refused(verifyJwt(anon, "s3cret", now))).includes("role"));
  const noExp = await jwt({ role: "service_role" }, "s3cret");
  assert((await refused(verifyJwt(noExp, "s3cret", now))).includes("expiry"));
  const none = await jwt({ role: "service_role", exp: now + 60 }, "s3cret", "none");
  assert((await refused(verifyJwt(none, "s3cret", now))).includes("HS256"));
  assert((await refused(verifyJwt("a.b.c", "s3cret", now))) !== "accepted");
  const oddSignature = good.slice(0, good.lastIndexOf(".")) + ".A"; // no base64 has this length
  assertEquals(await refused(verifyJwt(oddSignature, "s3cret", now)), "the token is not base64url");
  assert((await refused(verifyJwt("not a jwt", "s3cret", now))) !== "accepted");
});

Deno.test("bearer: the ingest secret, or a JWT when a JWT secret is configured", async () => {
  assertEquals(await refused(authenticate("Bearer topsecret", "topsecret", undefined)), "accepted");
  assert((await refused(authenticate(null, "topsecret", undefined))).includes("missing"));
  assert((await refused(authenticate("Basic dG9w", "topsecret", undefined))).includes("missing"));
  assert((await refused(authenticate("Bearer nope", "topsecret", undefined))) !== "accepted");
  const token = await jwt({ role: "service_role", exp: Date.now() / 1000 + 60 }, "jwtsecret");
  assertEquals(
    await refused(authenticate(`Bearer ${token}`, "topsecret", "jwtsecret")),
    "accepted",
  );
  assert((await refused(authenticate(`Bearer ${token}`, "topsecret", undefined))) !== "accepted");
});
