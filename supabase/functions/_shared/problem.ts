// Problem Details (RFC 9457) for the Edge Functions: the TypeScript side of worker/problem.py.
// The contract is ssot/schemas/problem.schema.json; docs/problem-details.md explains it.
//
// Every failure is a taxonomy failure: type urn:ipai:failure:<CODE>, the failure mode's title and
// retryable, status = its http_status or 500 where that is null. Request-level problems have codes
// too (HTTP.BAD_REQUEST, HTTP.METHOD_NOT_ALLOWED, HTTP.PAYLOAD_TOO_LARGE,
// HTTP.UNSUPPORTED_MEDIA_TYPE, DB.UNAVAILABLE, DB.LOGIN_REJECTED).
import { Ajv2020, type ValidateFunction } from "ajv/2020";
import ajvFormats from "ajv-formats";
import { redact } from "./redaction.ts";
// A generated copy of ssot/schemas/problem.schema.json (a deployed function cannot read ssot/);
// `python -m worker.generated --write-generated` writes it and a pytest fails when it is stale.
import SCHEMA from "./problem.schema.json" with { type: "json" };

export const PROBLEM_MEDIA_TYPE = "application/problem+json";
export const TYPE_PREFIX = "urn:ipai:failure:";
export const DEFAULT_STATUS = 500;
const MAX_ID = 256;
const MAX_DETAIL = 4096;

export interface FailureMode {
  code: string;
  title: string;
  http_status: number | null;
  retryable: boolean;
}

/** The failure modes the functions emit themselves, for when the database cannot be read.
 * A test compares them with ops.failure_modes. */
export const FALLBACK_MODES: Record<string, FailureMode> = {
  "ENV.KEY_MISSING": {
    code: "ENV.KEY_MISSING",
    title: "Required environment variable missing",
    http_status: 503,
    retryable: false,
  },
  "AUTH.INVALID_JWT": {
    code: "AUTH.INVALID_JWT",
    title: "JWT missing, expired or invalid",
    http_status: 401,
    retryable: false,
  },
  "AUTH.WEBHOOK_SIGNATURE_INVALID": {
    code: "AUTH.WEBHOOK_SIGNATURE_INVALID",
    title: "Webhook signature verification failed",
    http_status: 401,
    retryable: false,
  },
  "UNKNOWN.SUPABASE_FN": {
    code: "UNKNOWN.SUPABASE_FN",
    title: "Unclassified Supabase Edge Function error",
    http_status: null,
    retryable: false,
  },
  "HTTP.BAD_REQUEST": {
    code: "HTTP.BAD_REQUEST",
    title: "Request malformed or missing a required field",
    http_status: 400,
    retryable: false,
  },
  "HTTP.METHOD_NOT_ALLOWED": {
    code: "HTTP.METHOD_NOT_ALLOWED",
    title: "HTTP method not allowed",
    http_status: 405,
    retryable: false,
  },
  "HTTP.PAYLOAD_TOO_LARGE": {
    code: "HTTP.PAYLOAD_TOO_LARGE",
    title: "Request body or field too large",
    http_status: 413,
    retryable: false,
  },
  "HTTP.UNSUPPORTED_MEDIA_TYPE": {
    code: "HTTP.UNSUPPORTED_MEDIA_TYPE",
    title: "Request content type not supported",
    http_status: 415,
    retryable: false,
  },
  "DB.UNAVAILABLE": {
    code: "DB.UNAVAILABLE",
    title: "Database unreachable or not accepting connections",
    http_status: 503,
    retryable: true,
  },
  "DB.LOGIN_REJECTED": {
    code: "DB.LOGIN_REJECTED",
    title: "Database rejected the login (role, password, database or host)",
    http_status: 503,
    retryable: false,
  },
};

/** Seconds a client should wait before retrying a retryable failure (the Retry-After header). */
export const RETRY_AFTER_SECONDS = 5;

export interface Occurrence {
  instance?: string;
  where?: string | null;
  correlation_id?: string | null;
  run_id?: string | null;
}

export type ProblemDocument = Record<string, unknown> & {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
};

/** The extension member's name: OPS_PROBLEM_MEMBER (set from ssot/problem.yaml), default ipai. */
export function extensionMember(env: (name: string) => string | undefined): string {
  const name = env("OPS_PROBLEM_MEMBER")?.trim();
  return name && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : "ipai";
}

/** PostgreSQL text cannot hold NUL; lone surrogates are not UTF-8. Both become visible marks. */
export function cleanText(value: string): string {
  return value.replaceAll("\u0000", "\u2400").toWellFormed();
}

/** Storable, redacted (the SSOT rules, as ops.redact() applies them), then cut to the limit. */
function clip(value: unknown, limit = MAX_ID): string | null {
  if (value === null || value === undefined) return null;
  return redact(cleanText(String(value))).slice(0, limit).toWellFormed();
}

export function statusFor(mode: FailureMode): number {
  return mode.http_status ?? DEFAULT_STATUS;
}

/** The envelope for one occurrence of a taxonomy failure; an unknown code falls back to
 * UNKNOWN.SUPABASE_FN. extra members (RFC 9457 extensions such as field, reason) come first, so
 * they can never replace a standard member. */
export function failure(
  modes: Record<string, FailureMode>,
  code: string,
  detail: string,
  occ: Occurrence = {},
  member = "ipai",
  extra: Record<string, unknown> = {},
): ProblemDocument {
  const mode = modes[code] ?? FALLBACK_MODES[code] ?? FALLBACK_MODES["UNKNOWN.SUPABASE_FN"];
  return {
    ...extra,
    type: TYPE_PREFIX + mode.code,
    title: mode.title,
    status: statusFor(mode),
    detail: clip(detail, MAX_DETAIL) ?? "",
    instance: occ.instance || "about:blank",
    [member]: {
      code: mode.code,
      retryable: mode.retryable,
      where: clip(occ.where),
      correlation_id: clip(occ.correlation_id),
      run_id: clip(occ.run_id),
    },
  };
}

/** The HTTP response for an envelope; a retryable failure carries Retry-After. */
export function problemResponse(
  doc: ProblemDocument,
  headers: HeadersInit = {},
  member = "ipai",
): Response {
  const h = new Headers(headers);
  h.set("content-type", PROBLEM_MEDIA_TYPE);
  h.set("cache-control", "no-store");
  const ext = doc[member] as { retryable?: unknown } | undefined;
  if (ext?.retryable === true && !h.has("retry-after")) {
    h.set("retry-after", String(RETRY_AFTER_SECONDS));
  }
  return new Response(JSON.stringify(doc), { status: doc.status, headers: h });
}

/** What a received problem document says, read leniently (RFC 9457: ignore unknown members and
 * members of the wrong type; a missing type means about:blank). Never throws. */
export interface ParsedProblem {
  type: string;
  title: string | null;
  status: number | null;
  detail: string | null;
  instance: string | null;
  code: string | null;
  retryable: boolean | null;
  where: string | null;
  correlation_id: string | null;
  run_id: string | null;
  extensions: Record<string, unknown>;
}

const str = (v: unknown): string | null => typeof v === "string" ? v : null;

export function parseProblem(doc: unknown, member = "ipai"): ParsedProblem {
  const d = (doc !== null && typeof doc === "object" && !Array.isArray(doc))
    ? doc as Record<string, unknown>
    : {};
  const status = d.status;
  const ext = d[member];
  const e = (ext !== null && typeof ext === "object" && !Array.isArray(ext))
    ? ext as Record<string, unknown>
    : {};
  const type = str(d.type) ?? "about:blank";
  let code = str(e.code);
  if (code === null && type.startsWith(TYPE_PREFIX)) code = type.slice(TYPE_PREFIX.length) || null;
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (!["type", "title", "status", "detail", "instance", member].includes(k)) extensions[k] = v;
  }
  return {
    type,
    title: str(d.title),
    status: Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599
      ? status as number
      : null,
    detail: str(d.detail),
    instance: str(d.instance),
    code,
    retryable: typeof e.retryable === "boolean" ? e.retryable : null,
    where: str(e.where),
    correlation_id: str(e.correlation_id),
    run_id: str(e.run_id),
    extensions,
  };
}

/** One line for a parsed problem: title and detail (what ops.record_error stores as the message). */
export function summary(p: ParsedProblem): string {
  const parts = [p.title, p.detail].filter((x): x is string => !!x);
  if (parts.length === 2 && parts[0] === parts[1]) parts.pop();
  return parts.join(": ") || p.type;
}

// -- validating --------------------------------------------------------------------------------

const SCHEMA_MEMBER = "ipai"; // the extension member's name as written in the schema file
const validators = new Map<string, { envelope: ValidateFunction; base: ValidateFunction }>();

interface SchemaDoc {
  $id: string;
  $defs: { envelope: { required: string[]; properties: Record<string, unknown> } };
}

/** The schema compiled (with the uri-reference format checked), with the extension member renamed
 * when another name is configured, as worker/problem.py does. */
function compiled(member: string) {
  let v = validators.get(member);
  if (!v) {
    const schema = structuredClone(SCHEMA) as unknown as SchemaDoc;
    if (member !== SCHEMA_MEMBER) {
      const env = schema.$defs.envelope;
      env.required = env.required.map((r) => r === SCHEMA_MEMBER ? member : r);
      env.properties[member] = env.properties[SCHEMA_MEMBER];
      delete env.properties[SCHEMA_MEMBER];
    }
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajvFormats.default(ajv, ["uri-reference"]); // a CommonJS module: the plugin is its default
    const envelope = ajv.compile(schema);
    v = { envelope, base: ajv.getSchema(`${schema.$id}#/$defs/problem_details`)! };
    validators.set(member, v);
  }
  return v;
}

/** Everything wrong with an envelope we emit (empty when valid): the schema, then what a schema
 * cannot say: type names the code, and (given the taxonomy) the code exists and title, status and
 * retryable are the failure mode's. The same checks as worker/problem.py's validate(). */
export function validate(
  doc: unknown,
  modes?: Record<string, FailureMode>,
  member = "ipai",
): string[] {
  const { envelope } = compiled(member);
  if (!envelope(doc)) {
    return (envelope.errors ?? []).map((e) => `${e.instancePath || "(root)"}: ${e.message}`);
  }
  const d = doc as ProblemDocument;
  const ext = d[member] as { code: string; retryable: boolean };
  const code = d.type.slice(TYPE_PREFIX.length);
  const errors: string[] = [];
  if (ext.code !== code) errors.push(`type names ${code} but ${member}.code is ${ext.code}`);
  if (modes) {
    const mode = modes[code];
    if (!mode) {
      errors.push(`${code} is not in the taxonomy`);
    } else {
      if (d.title !== mode.title) errors.push(`title must be the failure mode's title`);
      if (d.status !== statusFor(mode)) {
        errors.push(`status must be ${statusFor(mode)} for ${code}`);
      }
      if (ext.retryable !== mode.retryable) {
        errors.push(`${member}.retryable must be ${mode.retryable} for ${code}`);
      }
    }
  }
  return errors;
}

/** Whether a document is RFC 9457 Problem Details at all (every member optional, well typed). */
export function isProblemDetails(doc: unknown, member = "ipai"): boolean {
  return compiled(member).base(doc) as boolean;
}
