// The database side of the functions: one small postgres.js pool per isolate, ops.record_error,
// the taxonomy (ops.failure_modes, cached) and the mapping of database errors to problems.
import postgres from "postgres";
import { failure, type FailureMode, FALLBACK_MODES, problemResponse } from "./problem.ts";

export interface RecordArgs {
  source: string;
  message: string;
  phase?: string | null;
  top_frame?: string | null;
  run_id?: string | null;
  correlation_id?: string | null;
  origin?: string | null;
  context?: unknown;
  occurred_at?: string | null;
  code_hint?: string | null;
  /** Idempotency key (1..200 characters): a key already stored answers with its event, duplicate. */
  event_key?: string | null;
  /** Set for callers the database must treat as external producers (e.g. "JWT role authenticated"):
   * they may not write internal sources and their code hints are checked (ops.producer). */
  producer?: string | null;
}

export interface Recorded {
  event_id: number;
  fingerprint: string;
  code: string;
  count: number;
  duplicate: boolean;
}

/** How a database error maps to an HTTP problem. "unreachable": the function could not get a
 * session (DB.UNAVAILABLE, retryable; DB.LOGIN_REJECTED, not), so it cannot record it either. */
export type DbFailure =
  | { kind: "unreachable"; code: "DB.UNAVAILABLE" | "DB.LOGIN_REJECTED"; message: string }
  | { kind: "bad_input"; column: string | null; message: string }
  | { kind: "failure"; code: string; message: string }
  | { kind: "internal"; message: string };

const MODES_TTL_MS = 5 * 60_000;
const OWN_RECORD_TIMEOUT_MS = 3_000;

/** At most `burst` recordings per code per `windowMs` in one isolate. The functions record failures
 * an unauthenticated caller can provoke (a bad token, a bad signature, a replay); without a bound,
 * anyone could turn requests into rows. What is held back is counted, and the next recording of the
 * code carries that count (`context.suppressed`), so the totals stay honest. */
export class OwnFailureLimiter {
  #windows = new Map<string, { start: number; used: number; suppressed: number }>();

  constructor(readonly burst = 30, readonly windowMs = 60_000) {}

  /** null: hold this one back; otherwise record it, with how many were held back before it. */
  take(code: string, now = Date.now()): { suppressed: number } | null {
    let w = this.#windows.get(code);
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, used: 0, suppressed: w?.suppressed ?? 0 };
      this.#windows.set(code, w);
    }
    if (w.used >= this.burst) {
      w.suppressed += 1;
      return null;
    }
    w.used += 1;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    return { suppressed };
  }
}

interface PgError {
  code?: unknown;
  column_name?: unknown;
  detail?: unknown;
  message?: unknown;
  severity?: unknown;
}

export function classifyDbError(e: unknown): DbFailure {
  const err = (e ?? {}) as PgError;
  const code = typeof err.code === "string" ? err.code : "";
  const message = typeof err.message === "string" ? err.message : String(e);
  const fromServer = typeof err.severity === "string" && /^[0-9A-Z]{5}$/.test(code);
  if (!fromServer) {
    // postgres.js and the runtime report unreachable servers with codes such as ECONNREFUSED,
    // CONNECT_TIMEOUT, CONNECTION_CLOSED; everything not from the server is treated as "down".
    return {
      kind: "unreachable",
      code: "DB.UNAVAILABLE",
      message: `database unreachable (${code || "no code"})`,
    };
  }
  if (code === "OP001" || code === "OP002" || code === "OP006" || code.startsWith("22")) {
    const column = typeof err.column_name === "string" && err.column_name ? err.column_name : null;
    // the server's words with its detail, as the CLI prints them (worker/errors.py describe())
    const detail = typeof err.detail === "string" && err.detail ? ` (${err.detail})` : "";
    return { kind: "bad_input", column, message: message + detail };
  }
  if (code === "53300" || code === "53400") {
    return { kind: "failure", code: "DB.CONNECTION_LIMIT", message };
  }
  if (code === "57014" || code === "55P03") {
    return { kind: "failure", code: "DB.STATEMENT_TIMEOUT", message };
  }
  if (code === "40001" || code === "40P01") {
    return { kind: "failure", code: "DB.DEADLOCK", message };
  }
  if (code.startsWith("08") || code.startsWith("57P") || code.startsWith("53")) {
    return {
      kind: "unreachable",
      code: "DB.UNAVAILABLE",
      message: `database unavailable (${code})`,
    };
  }
  if (code.startsWith("28") || code === "3D000" || code === "XX000" && /tenant/i.test(message)) {
    // a bad password or role (28xxx), a database that does not exist (3D000), a pooler that does
    // not know the tenant: retrying does not help until someone fixes SUPABASE_DB_URL
    return {
      kind: "unreachable",
      code: "DB.LOGIN_REJECTED",
      message: `the database refused the function's connection (${code})`,
    };
  }
  return { kind: "internal", message: `database error ${code}` };
}

/** The catch-all of a function: an unexpected exception is answered `500 UNKNOWN.SUPABASE_FN` with
 * `detail: "unexpected error"`, never a stack trace, and recorded when a database is at hand (the
 * error's name and message, which the database redacts, and its first stack frame). Logged first,
 * so nothing is lost if recording fails too; recordOwn never throws and gives up after a few seconds. */
export async function answerUnexpected(
  e: unknown,
  req: Request,
  d: Database | null,
  fn: { name: string; phase: string; where: string; correlationId: string; member: string },
): Promise<Response> {
  const err = e instanceof Error ? e : new Error(String(e));
  console.error(`${fn.name}: unexpected ${err.stack ?? err.message}`);
  const frame = (err.stack ?? "").split("\n").map((l) => l.trim()).find((l) => l.startsWith("at "));
  await d?.recordOwn({
    source: "supabase_fn",
    phase: fn.phase,
    message: `${fn.phase}: unexpected ${err.name}: ${err.message}`.slice(0, 4096),
    top_frame: frame ?? null,
    correlation_id: fn.correlationId,
    origin: fn.where,
    code_hint: "UNKNOWN.SUPABASE_FN",
  });
  return problemResponse(
    failure(d?.cachedModes() ?? FALLBACK_MODES, "UNKNOWN.SUPABASE_FN", "unexpected error", {
      instance: new URL(req.url).pathname,
      where: fn.where,
      correlation_id: fn.correlationId,
    }, fn.member),
    {},
    fn.member,
  );
}

export class Database {
  readonly sql: ReturnType<typeof postgres>;
  #modes: Record<string, FailureMode> = { ...FALLBACK_MODES };
  #modesAt = 0;
  readonly limiter = new OwnFailureLimiter();

  constructor(url: string, applicationName: string) {
    this.sql = postgres(url, {
      max: 3,
      connect_timeout: 5,
      idle_timeout: 20,
      prepare: false, // works through Supavisor in transaction mode too
      onnotice: () => {},
      connection: { application_name: applicationName },
    });
  }

  async record(a: RecordArgs): Promise<Recorded> {
    // sql.json sends the value as jsonb itself: a JSON.stringify'd string cast with ::jsonb reaches the
    // server as a JSON *string* (postgres.js types the parameter), which the ingest trigger would wrap as
    // {"value": "..."} and the context's structure would be lost.
    const context = a.context === undefined || a.context === null
      ? null
      : this.sql.json(a.context as Parameters<typeof this.sql.json>[0]);
    // One transaction, so that ops.producer (SET LOCAL) holds for this call only, pooler or not.
    const rows = await this.sql.begin(async (tx) => {
      if (a.producer) await tx`SELECT set_config('ops.producer', ${a.producer}, true)`;
      return await tx`
      SELECT event_id, fingerprint, code, count, duplicate
      FROM ops.record_error(source => ${a.source}, message => ${a.message}, phase => ${
        a.phase ?? null
      },
                            top_frame => ${a.top_frame ?? null}, run_id => ${a.run_id ?? null},
                            correlation_id => ${a.correlation_id ?? null}, origin => ${
        a.origin ?? null
      },
                            context => ${context}, occurred_at => ${
        a.occurred_at ?? null
      }::timestamptz,
                            code_hint => ${a.code_hint ?? null}, event_key => ${
        a.event_key ?? null
      })`;
    });
    const r = rows[0];
    return {
      event_id: Number(r.event_id),
      fingerprint: String(r.fingerprint),
      code: String(r.code),
      count: Number(r.count),
      duplicate: Boolean(r.duplicate),
    };
  }

  /** Record the function's own failure; never throws, gives up after a few seconds, and keeps to
   * the per-code bound of `limiter`. */
  async recordOwn(a: RecordArgs): Promise<void> {
    const allowed = this.limiter.take(a.code_hint ?? "");
    if (!allowed) return;
    const record = allowed.suppressed
      ? { ...a, context: { ...(a.context as object ?? {}), suppressed: allowed.suppressed } }
      : a;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.record(record),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("timeout")), OWN_RECORD_TIMEOUT_MS);
        }),
      ]);
    } catch (e) {
      console.error(`could not record own failure: ${e instanceof Error ? e.message : e}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The taxonomy from ops.failure_modes (cached); the built-in fallback when it cannot be read. */
  async modes(): Promise<Record<string, FailureMode>> {
    if (Date.now() - this.#modesAt < MODES_TTL_MS) return this.#modes;
    this.#modesAt = Date.now(); // also after a failure: do not hammer a sick database
    try {
      const rows = await this.sql<FailureMode[]>`
        SELECT code, title, http_status, retryable FROM ops.failure_modes`;
      const modes: Record<string, FailureMode> = { ...FALLBACK_MODES };
      for (const r of rows) {
        modes[r.code] = {
          code: r.code,
          title: r.title,
          http_status: r.http_status === null ? null : Number(r.http_status),
          retryable: Boolean(r.retryable),
        };
      }
      this.#modes = modes;
    } catch (e) {
      console.error(`ops.failure_modes unreadable, using built-in modes: ${e}`);
    }
    return this.#modes;
  }

  cachedModes(): Record<string, FailureMode> {
    return this.#modes;
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 1 });
  }
}
