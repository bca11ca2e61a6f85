// Bearer authentication for the ingest function: the shared secret OPS_INGEST_SECRET (compared in
// constant time), or an HS256 JWT signed with SUPABASE_JWT_SECRET whose role is service_role or
// authenticated (the public anon key is refused: anyone has it). Web Crypto only, no network.

const encoder = new TextEncoder();
const ACCEPTED_ROLES = new Set(["service_role", "authenticated"]);

export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

/** Equal strings, in time that depends on neither content nor length (both are hashed first). */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const u = new Uint8Array(x), v = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < u.length; i++) diff |= u[i] ^ v[i];
  return diff === 0;
}

function base64url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new AuthError("the token is not base64url");
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((text.length + 3) % 4);
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    throw new AuthError("the token is not base64url"); // e.g. a length that no encoding produces
  }
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function json(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(base64url(part)));
  } catch {
    throw new AuthError("the token is malformed");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new AuthError("the token is malformed");
  }
  return value as Record<string, unknown>;
}

/** The claims of a valid HS256 JWT; throws AuthError otherwise. now is unix seconds. */
export async function verifyJwt(
  token: string,
  secret: string,
  now = Date.now() / 1000,
): Promise<Record<string, unknown>> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new AuthError("the token is not a JWT");
  const header = json(parts[0]);
  if (header.alg !== "HS256") throw new AuthError("the token is not signed with HS256");
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const ok = await crypto.subtle.verify(
    "HMAC",
    key,
    base64url(parts[2]),
    encoder.encode(`${parts[0]}.${parts[1]}`),
  );
  if (!ok) throw new AuthError("the token's signature is invalid");
  const claims = json(parts[1]);
  if (typeof claims.exp !== "number") throw new AuthError("the token has no expiry");
  if (claims.exp <= now) throw new AuthError("the token has expired");
  if (typeof claims.nbf === "number" && claims.nbf > now + 60) {
    throw new AuthError("the token is not valid yet");
  }
  if (!ACCEPTED_ROLES.has(String(claims.role))) {
    throw new AuthError("the token's role may not ingest errors");
  }
  return claims;
}

/** Resolves if the Authorization header carries the ingest secret (to null: the operator's own
 * integration) or an acceptable JWT (to "JWT role <role>": an external producer, held to the
 * ingest role's rules by the database). */
export async function authenticate(
  authorization: string | null,
  ingestSecret: string,
  jwtSecret: string | undefined,
): Promise<string | null> {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
  if (!match) throw new AuthError("the Authorization: Bearer header is missing");
  const token = match[1];
  if (await constantTimeEqual(token, ingestSecret)) return null;
  if (jwtSecret && token.split(".").length === 3) {
    const claims = await verifyJwt(token, jwtSecret);
    return `JWT role ${String(claims.role)}`;
  }
  throw new AuthError("the bearer token is not valid");
}
