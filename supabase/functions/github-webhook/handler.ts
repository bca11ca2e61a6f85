// POST /github-webhook: outcomes of FixBot runs from GitHub (issue 10). Verifies GitHub's
// X-Hub-Signature-256 (HMAC-SHA256 of the raw body with GITHUB_WEBHOOK_SECRET, hex, "sha256="
// prefix: GitHub's "Validating webhook deliveries"), checked with Web Crypto's HMAC verify, which
// compares in constant time. Then maps the delivery to one outcome and stores it through
// ops.record_run_outcome (SUPABASE_DB_URL: a login in ops_outcomes, and in ops_ingest so the
// function can record its own failures), which matches the run by pull request URL or branch,
// deduplicates on X-GitHub-Delivery and rescores the run.
//
// Events (X-GitHub-Event) and what is stored:
//   pull_request         opened -> pull_request/opened; closed -> pull_request/merged or /closed
//   pull_request_review  submitted -> review/<approved|changes_requested|commented> (body redacted)
//   check_suite          completed -> ci/<conclusion>; success also says target fixed, 0 regressions
//   check_run            completed -> ci/<conclusion> for check <name>
//   ping                 200 {"pong": true}
// Anything else, an action not listed, or a branch no agent run worked on: 202 {"ignored": why},
// nothing stored (an outcome belongs to a run; another bot's or a person's PR is not ours to score).
// Answers: 200 {"outcome_id", "run_id", "duplicate"} (duplicate true for a redelivery of a stored
// delivery). Failures are Problem Details: 401 AUTH.WEBHOOK_SIGNATURE_INVALID (missing, malformed or
// wrong signature), 400 HTTP.BAD_REQUEST, 405, 413, 415, 503 ENV.KEY_MISSING / DB.UNAVAILABLE.
import { answerUnexpected, classifyDbError, Database } from "../_shared/db.ts";
import { jsonMediaType, readLimited, TooLarge } from "../_shared/http.ts";
import {
  extensionMember,
  failure,
  FALLBACK_MODES,
  type Occurrence,
  problemResponse,
} from "../_shared/problem.ts";

/** GitHub caps a payload at 25 MB; the events read here are a few tens of KB. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;
export const WHERE = "supabase_fn:github-webhook";
const PHASE = "github-webhook";
const SIGNATURE = /^sha256=([0-9a-f]{64})$/;

export type Env = (name: string) => string | undefined;

export interface Outcome {
  kind: "ci" | "pull_request" | "review";
  state: string;
  branch: string | null;
  pr_url: string | null;
  check_name: string | null;
  target_fixed: boolean | null;
  regressions: number | null;
  occurred_at: string | null;
  detail: Record<string, unknown>;
}

export interface GithubWebhookHandler {
  handle(req: Request): Promise<Response>;
  close(): Promise<void>;
}

/** true when header is "sha256=<hex>" and the hex is HMAC-SHA256(secret, body). */
export async function signatureValid(
  secret: string,
  body: Uint8Array,
  header: string | null,
): Promise<boolean> {
  const m = SIGNATURE.exec((header ?? "").trim());
  if (!m) return false;
  const mac = new Uint8Array(32);
  for (let i = 0; i < 32; i++) mac[i] = parseInt(m[1].slice(2 * i, 2 * i + 2), 16);
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return await crypto.subtle.verify("HMAC", key, mac, body as Uint8Array<ArrayBuffer>);
}

type Json = Record<string, unknown>;
const obj = (
  v: unknown,
): Json => (v !== null && typeof v === "object" && !Array.isArray(v) ? v as Json : {});
const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** The outcome a delivery reports, or a string saying why it is ignored. Only the fields named
 * here are read; the rest of GitHub's payload is not kept. */
export function outcomeOf(event: string, payload: Json): Outcome | string {
  const action = text(payload.action);
  if (event === "pull_request") {
    const pr = obj(payload.pull_request);
    if (action !== "opened" && action !== "closed") {
      return `pull_request ${action} is not an outcome`;
    }
    const merged = pr.merged === true;
    return {
      kind: "pull_request",
      state: action === "opened" ? "opened" : merged ? "merged" : "closed",
      branch: text(obj(pr.head).ref),
      pr_url: text(pr.html_url),
      check_name: null,
      target_fixed: null,
      regressions: null,
      occurred_at: text(action === "opened" ? pr.created_at : merged ? pr.merged_at : pr.closed_at),
      detail: { event, action, number: pr.number ?? null, head_sha: text(obj(pr.head).sha) },
    };
  }
  if (event === "pull_request_review") {
    if (action !== "submitted") return `pull_request_review ${action} is not an outcome`;
    const review = obj(payload.review), pr = obj(payload.pull_request);
    const state = (text(review.state) ?? "").toLowerCase();
    if (!state) return "the review has no state";
    return {
      kind: "review",
      state,
      branch: text(obj(pr.head).ref),
      pr_url: text(pr.html_url),
      check_name: null,
      target_fixed: null,
      regressions: null,
      occurred_at: text(review.submitted_at),
      detail: {
        event,
        reviewer: text(obj(review.user).login),
        comment: text(review.body), // redacted by ops.record_run_outcome
        html_url: text(review.html_url),
        commit_id: text(review.commit_id),
      },
    };
  }
  if (event === "check_suite" || event === "check_run") {
    if (action !== "completed") return `${event} ${action} is not an outcome`;
    const run = obj(payload.check_run);
    const suite = event === "check_suite" ? obj(payload.check_suite) : obj(run.check_suite);
    const conclusion = text(event === "check_suite" ? suite.conclusion : run.conclusion);
    if (!conclusion) return `${event} completed without a conclusion`;
    const whole = event === "check_suite";
    return {
      kind: "ci",
      state: conclusion,
      branch: text(suite.head_branch),
      pr_url: null,
      check_name: whole ? null : text(run.name),
      // a whole suite green: the target check is among them and nothing else is red
      target_fixed: whole && conclusion === "success" ? true : null,
      regressions: whole && conclusion === "success" ? 0 : null,
      occurred_at: text(whole ? suite.updated_at : run.completed_at),
      detail: {
        event,
        head_sha: text(suite.head_sha),
        html_url: whole ? null : text(run.html_url),
        app: text(obj(suite.app).name) ?? text(obj(run.app).name),
      },
    };
  }
  return `event ${event} is not an outcome`;
}

export function createGithubWebhookHandler(env: Env): GithubWebhookHandler {
  const member = extensionMember(env);
  let db: Database | null = null;

  function database(): Database | null {
    const url = env("SUPABASE_DB_URL")?.trim();
    if (!url) return null;
    db ??= new Database(url, "github-webhook");
    return db;
  }

  async function own(code: string, detail: string, occ: Occurrence, extra = {}): Promise<Response> {
    const d = database();
    const doc = failure(FALLBACK_MODES, code, detail, occ, member, extra);
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
    return problemResponse(failure(FALLBACK_MODES, code, detail, occ, member), headers, member);
  }

  function json(status: number, body: unknown): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  }

  async function handle(req: Request): Promise<Response> {
    const delivery = req.headers.get("x-github-delivery");
    const occ: Occurrence = {
      instance: new URL(req.url).pathname,
      where: WHERE,
      correlation_id: delivery ?? crypto.randomUUID(),
      run_id: null,
    };
    if (req.method !== "POST") {
      return refuse("HTTP.METHOD_NOT_ALLOWED", `${req.method} is not allowed; use POST`, occ, {
        allow: "POST",
      });
    }
    const secret = env("GITHUB_WEBHOOK_SECRET");
    if (!secret) {
      return own("ENV.KEY_MISSING", "GITHUB_WEBHOOK_SECRET is not set in this environment", occ);
    }
    let body: Uint8Array;
    try {
      body = await readLimited(req, MAX_BODY_BYTES);
    } catch (e) {
      return e instanceof TooLarge
        ? refuse("HTTP.PAYLOAD_TOO_LARGE", `the body is larger than ${MAX_BODY_BYTES} bytes`, occ)
        : refuse("HTTP.BAD_REQUEST", "the body could not be read", occ);
    }
    if (!(await signatureValid(secret, body, req.headers.get("x-hub-signature-256")))) {
      const reason = req.headers.get("x-hub-signature-256") ? "bad_signature" : "missing_signature";
      return own(
        "AUTH.WEBHOOK_SIGNATURE_INVALID",
        "X-Hub-Signature-256 is missing or is not the HMAC-SHA256 of the body with the webhook secret",
        occ,
        { reason },
      );
    }
    const event = req.headers.get("x-github-event");
    if (!delivery || delivery.length > 200 || !event) {
      return refuse(
        "HTTP.BAD_REQUEST",
        "X-GitHub-Delivery (1..200 characters) and X-GitHub-Event are required",
        occ,
      );
    }
    if (jsonMediaType(req.headers.get("content-type")) !== "application/json") {
      return refuse(
        "HTTP.UNSUPPORTED_MEDIA_TYPE",
        "the webhook's content type must be application/json",
        occ,
      );
    }
    let payload: Json;
    try {
      payload = obj(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)));
    } catch {
      return refuse("HTTP.BAD_REQUEST", "the body is not JSON", occ);
    }
    if (event === "ping") return json(200, { pong: true });
    const outcome = outcomeOf(event, payload);
    if (typeof outcome === "string") return json(202, { ignored: outcome });
    if (!outcome.branch && !outcome.pr_url) {
      return json(202, { ignored: "the delivery names no branch or pull request" });
    }
    const d = database();
    if (!d) return own("ENV.KEY_MISSING", "SUPABASE_DB_URL is not set in this environment", occ);
    try {
      const rows = await d.sql`
        SELECT outcome_id, matched_run_id, duplicate
        FROM ops.record_run_outcome(kind => ${outcome.kind}, state => ${outcome.state},
                                    branch => ${outcome.branch}, pr_url => ${outcome.pr_url},
                                    check_name => ${outcome.check_name},
                                    target_fixed => ${outcome.target_fixed},
                                    regressions => ${outcome.regressions}::integer,
                                    detail => ${
        d.sql.json(outcome.detail as Parameters<typeof d.sql.json>[0])
      },
                                    delivery_id => ${delivery},
                                    occurred_at => ${outcome.occurred_at}::timestamptz)`;
      const r = rows[0];
      if (r.matched_run_id === null) {
        return json(202, {
          ignored: `no agent run worked on ${outcome.pr_url ?? `branch ${outcome.branch}`}`,
        });
      }
      return json(200, {
        outcome_id: Number(r.outcome_id),
        run_id: Number(r.matched_run_id),
        duplicate: Boolean(r.duplicate),
      });
    } catch (e) {
      const f = classifyDbError(e);
      switch (f.kind) {
        case "bad_input":
          return refuse("HTTP.BAD_REQUEST", f.message.slice(0, 300), occ);
        case "unreachable":
          console.error(`github-webhook: ${f.code}: ${f.message}`);
          return problemResponse(
            failure(FALLBACK_MODES, f.code, f.message, occ, member),
            {},
            member,
          );
        case "failure":
          return own(f.code, f.message.slice(0, 300), occ);
        case "internal":
          console.error(`github-webhook: ${f.message}: ${e}`);
          return own("UNKNOWN.SUPABASE_FN", f.message, occ);
      }
    }
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
          name: "github-webhook",
          phase: PHASE,
          where: WHERE,
          correlationId: req.headers.get("x-github-delivery") ?? crypto.randomUUID(),
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
