// POST /ops-webhook: the receiving end of the worker's webhook destination. Verifies the HMAC
// signature (constant time), the timestamp (OPS_WEBHOOK_TOLERANCE seconds, default 300) and the
// delivery id, and answers 204. The worker re-delivers the same delivery id after a crash, signed
// afresh: such a re-delivery of an id already received within the window is answered 200
// {"duplicate": true} and not processed again (the worker must learn that it arrived rather than
// retry or give up). The same id with a timestamp already accepted is a byte-identical copy, a
// replay: 401 with reason "replayed". Failures are AUTH.WEBHOOK_SIGNATURE_INVALID (401) with a
// "reason" member, recorded through ops.record_error when SUPABASE_DB_URL is set.
import { answerUnexpected, Database } from "../_shared/db.ts";
import { readLimited, TooLarge } from "../_shared/http.ts";
import {
  extensionMember,
  failure,
  FALLBACK_MODES,
  type Occurrence,
  problemResponse,
} from "../_shared/problem.ts";
import { DEFAULT_TOLERANCE, ReplayCache, SignatureInvalid, verify } from "../_shared/signing.ts";

export const MAX_BODY_BYTES = 256 * 1024;
export const WHERE = "supabase_fn:ops-webhook";
const PHASE = "ops-webhook";

export type Env = (name: string) => string | undefined;

export interface WebhookHandler {
  handle(req: Request): Promise<Response>;
  close(): Promise<void>;
}

export function createWebhookHandler(env: Env, seen = new ReplayCache()): WebhookHandler {
  const member = extensionMember(env);
  let db: Database | null = null;

  function database(): Database | null {
    const url = env("SUPABASE_DB_URL")?.trim();
    if (!url) return null;
    try {
      db ??= new Database(url, "ops-webhook");
    } catch {
      return null;
    }
    return db;
  }

  async function own(code: string, detail: string, occ: Occurrence, extra = {}): Promise<Response> {
    const d = database();
    const doc = failure(d ? await d.modes() : FALLBACK_MODES, code, detail, occ, member, extra);
    await d?.recordOwn({
      source: "supabase_fn",
      phase: PHASE,
      message: `${PHASE}: ${detail}`,
      correlation_id: occ.correlation_id,
      origin: WHERE,
      code_hint: code,
    });
    return problemResponse(doc, {}, member);
  }

  /** A client mistake: answered, not recorded. */
  function refuse(code: string, detail: string, occ: Occurrence, headers: HeadersInit = {}) {
    return problemResponse(
      failure(db?.cachedModes() ?? FALLBACK_MODES, code, detail, occ, member),
      headers,
      member,
    );
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const occ: Occurrence = {
      instance: url.pathname,
      where: WHERE,
      correlation_id: req.headers.get("x-ops-delivery") ?? crypto.randomUUID(),
      run_id: null,
    };
    if (req.method !== "POST") {
      return refuse("HTTP.METHOD_NOT_ALLOWED", `${req.method} is not allowed; use POST`, occ, {
        allow: "POST",
      });
    }
    const secret = env("OPS_WEBHOOK_SECRET");
    if (!secret) {
      return own("ENV.KEY_MISSING", "OPS_WEBHOOK_SECRET is not set in this environment", occ);
    }
    let body: Uint8Array;
    try {
      body = await readLimited(req, MAX_BODY_BYTES);
    } catch (e) {
      return e instanceof TooLarge
        ? refuse("HTTP.PAYLOAD_TOO_LARGE", `the body is larger than ${MAX_BODY_BYTES} bytes`, occ)
        : refuse("HTTP.BAD_REQUEST", "the body could not be read", occ);
    }
    const tolerance = Number(env("OPS_WEBHOOK_TOLERANCE") ?? DEFAULT_TOLERANCE);
    let delivery: Awaited<ReturnType<typeof verify>>;
    try {
      delivery = await verify(secret, body, req.headers, {
        tolerance: Number.isFinite(tolerance) && tolerance > 0 ? tolerance : DEFAULT_TOLERANCE,
        seen,
      });
    } catch (e) {
      if (e instanceof SignatureInvalid) {
        return own("AUTH.WEBHOOK_SIGNATURE_INVALID", e.message, occ, { reason: e.reason });
      }
      throw e;
    }
    if (delivery.duplicate) {
      return new Response(JSON.stringify({ duplicate: true, delivery_id: delivery.deliveryId }), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }
    return new Response(null, { status: 204 });
  }

  return {
    async handle(req: Request): Promise<Response> {
      try {
        return await handle(req);
      } catch (e) {
        let d: Database | null = null;
        try {
          d = database();
        } catch { /* the environment itself may be what failed */ }
        return await answerUnexpected(e, req, d, {
          name: "ops-webhook",
          phase: PHASE,
          where: WHERE,
          correlationId: req.headers.get("x-ops-delivery") ?? crypto.randomUUID(),
          member,
        });
      }
    },
    async close() {
      await db?.close();
      db = null;
    },
  };
}
