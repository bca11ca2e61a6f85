// POST /ops-ingest-error: store one raw error or one Problem Details document through
// ops.record_error and answer 202 {event_id, code, fingerprint, count, duplicate}. Every failure is
// application/problem+json (docs/problem-details.md lists them with the limits below).
import { authenticate, AuthError } from "../_shared/auth.ts";
import { answerUnexpected, classifyDbError, Database, type RecordArgs } from "../_shared/db.ts";
import { cleanJson, depth, jsonMediaType, readLimited, TooLarge } from "../_shared/http.ts";
import {
  extensionMember,
  failure,
  FALLBACK_MODES,
  type Occurrence,
  parseProblem,
  PROBLEM_MEDIA_TYPE,
  problemResponse,
  summary,
} from "../_shared/problem.ts";

export const MAX_BODY_BYTES = 256 * 1024;
export const MAX_CONTEXT_DEPTH = 32;
/** A message (or a problem document's title and detail) longer than this many UTF-8 bytes is
 * refused (413 naming the field); the database keeps 32 KiB of a message (head and tail). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const WHERE = "supabase_fn:ops-ingest-error";
const PHASE = "ops-ingest-error";
const RAW_FIELDS = new Set([
  "source",
  "message",
  "phase",
  "top_frame",
  "run_id",
  "correlation_id",
  "where",
  "origin",
  "context",
  "occurred_at",
  "code",
  "code_hint",
  "event_key",
  "event_id",
  "idempotency_key",
]);
/** Members read as the idempotency key (the Idempotency-Key header wins), and its limit. */
const KEY_FIELDS = ["event_key", "event_id", "idempotency_key"] as const;
export const MAX_KEY_CHARS = 200;
const TEXT_FIELDS = ["phase", "top_frame", "where", "origin", "code", "code_hint"] as const;
const ID_FIELDS = ["run_id", "correlation_id"] as const;

export type Env = (name: string) => string | undefined;

/** A refused request (a client mistake: answered, not recorded), with the offending field named. */
class Refusal extends Error {
  constructor(readonly code: string, message: string, readonly field: string | null = null) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function nonEmpty(v: unknown): v is string {
  return typeof v === "string" && v.trim() !== "";
}

const encoder = new TextEncoder();

/** Refuses (413 naming the field) a message over MAX_MESSAGE_BYTES of UTF-8. */
function limitMessage(text: string, field: string): void {
  // a string of n UTF-16 units takes at most 3n bytes: measure only when it could be too long
  if (text.length * 3 > MAX_MESSAGE_BYTES && encoder.encode(text).length > MAX_MESSAGE_BYTES) {
    throw new Refusal(
      "HTTP.PAYLOAD_TOO_LARGE",
      `${field} is larger than ${MAX_MESSAGE_BYTES} bytes of UTF-8; send its head and tail, and ` +
        "put bulky output behind a link in context",
      field,
    );
  }
}

/** A raw error document → ops.record_error arguments (or a Refusal naming the field). */
function fromRaw(doc: Record<string, unknown>): RecordArgs {
  const unknown = Object.keys(doc).filter((k) => !RAW_FIELDS.has(k)).sort();
  if (unknown.length) {
    throw new Refusal(
      "HTTP.BAD_REQUEST",
      `unknown field(s): ${unknown.join(", ").slice(0, 200)}; allowed: ${
        [...RAW_FIELDS].join(", ")
      }`,
      unknown[0].slice(0, 100),
    );
  }
  if (!nonEmpty(doc.source)) {
    throw new Refusal("HTTP.BAD_REQUEST", "source is required (a non-empty string)", "source");
  }
  if (typeof doc.message === "string" && doc.message.trim() === "") {
    // the database's rule (ops.is_blank) decides the rest, e.g. zero-width-only text
    throw new Refusal(
      "HTTP.BAD_REQUEST",
      "message is required (it has no visible character)",
      "message",
    );
  }
  if (!nonEmpty(doc.message)) {
    throw new Refusal("HTTP.BAD_REQUEST", "message is required (a non-empty string)", "message");
  }
  limitMessage(doc.message, "message");
  for (const f of TEXT_FIELDS) {
    if (doc[f] !== undefined && doc[f] !== null && typeof doc[f] !== "string") {
      throw new Refusal("HTTP.BAD_REQUEST", `${f} must be a string`, f);
    }
  }
  for (const f of [...ID_FIELDS, ...KEY_FIELDS]) {
    const v = doc[f];
    if (v !== undefined && v !== null && typeof v !== "string" && typeof v !== "number") {
      throw new Refusal("HTTP.BAD_REQUEST", `${f} must be a string or a number`, f);
    }
  }
  let occurred: string | null = null;
  if (doc.occurred_at !== undefined && doc.occurred_at !== null) {
    const t = typeof doc.occurred_at === "string" ? Date.parse(doc.occurred_at) : NaN;
    if (Number.isNaN(t)) {
      throw new Refusal(
        "HTTP.BAD_REQUEST",
        "occurred_at must be an ISO 8601 timestamp",
        "occurred_at",
      );
    }
    occurred = new Date(t).toISOString();
  }
  if (doc.context !== undefined && depth(doc.context, MAX_CONTEXT_DEPTH) > MAX_CONTEXT_DEPTH) {
    throw new Refusal(
      "HTTP.BAD_REQUEST",
      `context is nested deeper than ${MAX_CONTEXT_DEPTH} levels`,
      "context",
    );
  }
  const text = (v: unknown) =>
    v === undefined || v === null ? null : cleanJson(String(v)) as string;
  return {
    source: text(doc.source)!,
    message: text(doc.message)!,
    phase: text(doc.phase),
    top_frame: text(doc.top_frame),
    run_id: text(doc.run_id),
    correlation_id: text(doc.correlation_id),
    origin: text(doc.where ?? doc.origin),
    context: doc.context === undefined ? null : cleanJson(doc.context),
    occurred_at: occurred,
    code_hint: text(doc.code_hint ?? doc.code),
    event_key: text(doc.event_key ?? doc.event_id ?? doc.idempotency_key),
  };
}

/** A Problem Details document → ops.record_error arguments. The source comes from ?source=, a
 * top-level "source" member or the part of ipai.where before ":"; ipai.code is the code hint. */
function fromProblem(doc: Record<string, unknown>, url: URL, member: string): RecordArgs {
  if (depth(doc, MAX_CONTEXT_DEPTH + 1) > MAX_CONTEXT_DEPTH + 1) {
    throw new Refusal(
      "HTTP.BAD_REQUEST",
      `the problem document is nested deeper than ${MAX_CONTEXT_DEPTH} levels`,
      "context",
    );
  }
  const p = parseProblem(cleanJson(doc), member);
  const longer = (p.title?.length ?? 0) > (p.detail?.length ?? 0) ? "title" : "detail";
  limitMessage(summary(p), longer);
  const fromWhere = p.where && /^[a-z_]+:/.test(p.where) ? p.where.split(":")[0] : null;
  const source = url.searchParams.get("source") ??
    (typeof p.extensions.source === "string" ? p.extensions.source : null) ?? fromWhere;
  if (!nonEmpty(source)) {
    throw new Refusal(
      "HTTP.BAD_REQUEST",
      `source is required: pass ?source=, a "source" member or ${member}.where "<source>:<name>"`,
      "source",
    );
  }
  const phase = url.searchParams.get("phase") ??
    (typeof p.extensions.phase === "string" ? p.extensions.phase : null);
  const problem: Record<string, unknown> = { type: p.type };
  for (const k of ["title", "status", "instance", "retryable"] as const) {
    if (p[k] !== null) problem[k] = p[k];
  }
  if (Object.keys(p.extensions).length) problem.extensions = p.extensions;
  return {
    source: cleanJson(source) as string,
    message: summary(p),
    phase: phase === null ? null : cleanJson(phase) as string,
    run_id: p.run_id,
    correlation_id: p.correlation_id,
    origin: p.where,
    context: { problem },
    code_hint: p.code,
    event_key: problemKey(doc, member),
  };
}

/** A problem document's idempotency key: its extension member's event_id (e.g. ipai.event_id). */
function problemKey(doc: Record<string, unknown>, member: string): string | null {
  const ext = doc[member];
  const v = isObject(ext) ? ext.event_id : undefined;
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" && typeof v !== "number") {
    throw new Refusal(
      "HTTP.BAD_REQUEST",
      `${member}.event_id must be a string or a number`,
      "event_id",
    );
  }
  return cleanJson(String(v)) as string;
}

function looksLikeProblem(doc: Record<string, unknown>, mediaType: string): boolean {
  if (mediaType === PROBLEM_MEDIA_TYPE) return true;
  return !("message" in doc) && ("type" in doc || "title" in doc || "detail" in doc);
}

export interface IngestHandler {
  handle(req: Request): Promise<Response>;
  close(): Promise<void>;
}

export function createIngestHandler(env: Env): IngestHandler {
  const member = extensionMember(env);
  let db: Database | null = null;
  let dbUrl: string | undefined;

  function database(url: string): Database {
    if (!db || dbUrl !== url) {
      db?.close().catch(() => {});
      db = new Database(url, "ops-ingest-error");
      dbUrl = url;
    }
    return db;
  }

  async function own(
    d: Database | null,
    code: string,
    detail: string,
    occ: Occurrence,
    extraHeaders: HeadersInit = {},
  ): Promise<Response> {
    // The function's own failure: answered with the taxonomy's words, and recorded when possible.
    const modes = d ? await d.modes() : FALLBACK_MODES;
    const doc = failure(modes, code, detail, occ, member);
    if (d) {
      await d.recordOwn({
        source: "supabase_fn",
        phase: PHASE,
        message: `${PHASE}: ${detail}`,
        correlation_id: occ.correlation_id,
        origin: WHERE,
        code_hint: code,
      });
    }
    return problemResponse(doc, extraHeaders, member);
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const occ: Occurrence = {
      instance: url.pathname,
      where: WHERE,
      correlation_id: req.headers.get("x-correlation-id") ?? crypto.randomUUID(),
      run_id: req.headers.get("x-run-id"),
    };
    const refuse = (r: Refusal, headers: HeadersInit = {}) =>
      problemResponse(
        failure(
          db?.cachedModes() ?? FALLBACK_MODES,
          r.code,
          r.message,
          occ,
          member,
          r.field ? { field: r.field } : {},
        ),
        headers,
        member,
      );

    if (req.method !== "POST") {
      return refuse(
        new Refusal("HTTP.METHOD_NOT_ALLOWED", `${req.method} is not allowed; use POST`),
        { allow: "POST" },
      );
    }
    const url_ = env("SUPABASE_DB_URL")?.trim();
    const secret = env("OPS_INGEST_SECRET");
    if (!url_) {
      return own(null, "ENV.KEY_MISSING", "SUPABASE_DB_URL is not set in this environment", occ);
    }
    let d: Database | null;
    try {
      d = database(url_);
    } catch {
      d = null;
    }
    if (!secret) {
      return own(d, "ENV.KEY_MISSING", "OPS_INGEST_SECRET is not set in this environment", occ);
    }
    let producer: string | null;
    try {
      producer = await authenticate(
        req.headers.get("authorization"),
        secret,
        env("SUPABASE_JWT_SECRET"),
      );
    } catch (e) {
      if (!(e instanceof AuthError)) throw e; // our failure, not the caller's: the catch-all's
      return own(d, "AUTH.INVALID_JWT", e.message, occ, {
        "www-authenticate": 'Bearer realm="ops"',
      });
    }

    let args: RecordArgs;
    try {
      const mediaType = jsonMediaType(req.headers.get("content-type"));
      if (!mediaType) {
        throw new Refusal(
          "HTTP.UNSUPPORTED_MEDIA_TYPE",
          "send application/json (a raw error) or application/problem+json",
          "content-type",
        );
      }
      let bytes: Uint8Array;
      try {
        bytes = await readLimited(req, MAX_BODY_BYTES);
      } catch (e) {
        if (e instanceof TooLarge) {
          throw new Refusal(
            "HTTP.PAYLOAD_TOO_LARGE",
            `the body is larger than ${MAX_BODY_BYTES} bytes`,
            "body",
          );
        }
        throw new Refusal("HTTP.BAD_REQUEST", "the body could not be read", "body");
      }
      // Invalid UTF-8 is decoded with U+FFFD rather than refused: the error report still arrives.
      const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        throw new Refusal(
          "HTTP.BAD_REQUEST",
          text.trim() ? "the body is not valid JSON" : "the body is empty",
          "body",
        );
      }
      if (!isObject(doc)) {
        throw new Refusal("HTTP.BAD_REQUEST", "the body must be a JSON object", "body");
      }
      args = looksLikeProblem(doc, mediaType) ? fromProblem(doc, url, member) : fromRaw(doc);
      const header = req.headers.get("idempotency-key");
      if (header !== null) args.event_key = header;
      if (args.event_key !== null && args.event_key !== undefined) {
        if (args.event_key.trim() === "" || [...args.event_key].length > MAX_KEY_CHARS) {
          throw new Refusal(
            "HTTP.BAD_REQUEST",
            `the idempotency key must be 1 to ${MAX_KEY_CHARS} characters`,
            "event_key",
          );
        }
      }
      args.producer = producer;
    } catch (e) {
      if (e instanceof Refusal) return refuse(e);
      throw e;
    }

    if (!d) {
      return own(
        null,
        "ENV.KEY_MISSING",
        "SUPABASE_DB_URL is set but is not a usable connection string",
        occ,
      );
    }
    try {
      const row = await d.record(args);
      return new Response(JSON.stringify(row), {
        status: 202,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    } catch (e) {
      const f = classifyDbError(e);
      switch (f.kind) {
        case "bad_input":
          return refuse(new Refusal("HTTP.BAD_REQUEST", f.message.slice(0, 300), f.column));
        case "unreachable":
          // no session, so nothing can be recorded: the platform's log is the record
          console.error(`ops-ingest-error: ${f.code}: ${f.message}`);
          return own(null, f.code, f.message, occ);
        case "failure":
          return own(d, f.code, f.message.slice(0, 300), occ);
        case "internal":
          console.error(`ops-ingest-error: ${f.message}: ${e}`);
          return own(d, "UNKNOWN.SUPABASE_FN", f.message, occ);
      }
    }
  }

  return {
    async handle(req: Request): Promise<Response> {
      try {
        return await handle(req);
      } catch (e) {
        return await answerUnexpected(e, req, db, {
          name: "ops-ingest-error",
          phase: PHASE,
          where: WHERE,
          correlationId: req.headers.get("x-correlation-id") ?? crypto.randomUUID(),
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
