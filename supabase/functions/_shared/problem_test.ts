import {
  failure,
  FALLBACK_MODES,
  parseProblem,
  problemResponse,
  statusFor,
  summary,
  validate,
} from "./problem.ts";
import { Database } from "./db.ts";
import {
  assert,
  assertEquals,
  DB_URL,
  envelopeErrors,
  isProblemDetails,
  NO_DB,
} from "./testing.ts";

Deno.test("every failure mode in ops.failure_modes gives a valid envelope", {
  ignore: NO_DB,
}, async () => {
  const db = new Database(DB_URL!, "deno-test");
  try {
    const modes = await db.modes();
    const codes = Object.keys(modes);
    assert(codes.length > 50, `expected the synced taxonomy, got ${codes.length} codes`);
    for (const code of codes) {
      const doc = failure(modes, code, "it broke", { instance: "/t", where: "supabase_fn:test" });
      assertEquals(validate(doc, modes), [], code);
      assertEquals(doc.status, modes[code].http_status ?? 500, code);
      assertEquals(doc.type, `urn:ipai:failure:${code}`);
    }
  } finally {
    await db.close();
  }
});

Deno.test("the built-in fallback modes agree with the database", { ignore: NO_DB }, async () => {
  const db = new Database(DB_URL!, "deno-test");
  try {
    const modes = await db.modes();
    for (const [code, mode] of Object.entries(FALLBACK_MODES)) {
      assertEquals(mode, modes[code], code);
    }
  } finally {
    await db.close();
  }
});

Deno.test("request-level problems are taxonomy failures with a code", () => {
  for (
    const [code, status] of [
      ["HTTP.BAD_REQUEST", 400],
      ["HTTP.METHOD_NOT_ALLOWED", 405],
      ["HTTP.PAYLOAD_TOO_LARGE", 413],
      ["HTTP.UNSUPPORTED_MEDIA_TYPE", 415],
      ["DB.UNAVAILABLE", 503],
      ["DB.LOGIN_REJECTED", 503],
    ] as const
  ) {
    const doc = failure(FALLBACK_MODES, code, "detail", { instance: "/x" });
    assertEquals(envelopeErrors(doc), [], code);
    assertEquals([doc.type, doc.status, (doc.ipai as { code: unknown }).code], [
      `urn:ipai:failure:${code}`,
      status,
      code,
    ]);
  }
});

Deno.test("a retryable failure carries Retry-After, a permanent one does not", () => {
  const down = problemResponse(failure(FALLBACK_MODES, "DB.UNAVAILABLE", "x"));
  assertEquals(down.headers.get("retry-after"), "5");
  const refused = problemResponse(failure(FALLBACK_MODES, "DB.LOGIN_REJECTED", "x"));
  assertEquals(refused.headers.get("retry-after"), null);
});

Deno.test("a null http_status defaults to 500", () => {
  assertEquals(statusFor(FALLBACK_MODES["UNKNOWN.SUPABASE_FN"]), 500);
  assertEquals(failure(FALLBACK_MODES, "UNKNOWN.SUPABASE_FN", "x").status, 500);
});

Deno.test("the extension member name is configurable", () => {
  const doc = failure(FALLBACK_MODES, "ENV.KEY_MISSING", "x", {}, "acme");
  assert("acme" in doc && !("ipai" in doc));
  assertEquals(parseProblem(doc, "acme").code, "ENV.KEY_MISSING");
});

Deno.test("NUL and lone surrogates never reach the envelope", () => {
  const doc = failure(FALLBACK_MODES, "ENV.KEY_MISSING", "a\u0000b\ud800", { run_id: "r\u0000" });
  assertEquals(doc.detail, "a\u2400b\ufffd");
  assertEquals((doc.ipai as { run_id: string }).run_id, "r\u2400");
});

Deno.test("RFC 9457's examples are problem details and parse with their extensions", () => {
  const outOfCredit = {
    type: "https://example.com/probs/out-of-credit",
    title: "You do not have enough credit.",
    detail: "Your current balance is 30, but that costs 50.",
    instance: "/account/12345/msgs/abc",
    balance: 30,
    accounts: ["/account/12345", "/account/67890"],
  };
  assert(isProblemDetails(outOfCredit));
  assert(envelopeErrors(outOfCredit).length > 0, "no ipai member: not our envelope");
  const p = parseProblem(outOfCredit);
  assertEquals(p.extensions, { balance: 30, accounts: ["/account/12345", "/account/67890"] });
  assertEquals(
    summary(p),
    "You do not have enough credit.: Your current balance is 30, but that costs 50.",
  );
});

Deno.test("parsing foreign or malformed documents never throws", () => {
  const odd: unknown[] = [
    null,
    42,
    "x",
    [],
    [1, 2],
    {},
    { type: 5, title: [], status: "500", ipai: "nope" },
    { status: 1e9, ipai: { code: 7, retryable: "yes" } },
    { type: "urn:ipai:failure:ENV.KEY_MISSING" },
    Object.create(null),
  ];
  for (const doc of odd) {
    const p = parseProblem(doc);
    assert(typeof p.type === "string");
  }
  assertEquals(parseProblem({ status: "500" }).status, null);
  assertEquals(parseProblem({ type: "urn:ipai:failure:ENV.KEY_MISSING" }).code, "ENV.KEY_MISSING");
});

Deno.test("validate() catches what a schema alone cannot, given the taxonomy", () => {
  const cases: Array<[(d: Record<string, unknown>) => void, string]> = [
    [(d) => d.title = "Something else", "title"],
    [(d) => d.status = 418, "status"],
    [(d) => (d.ipai as Record<string, unknown>).code = "AUTH.INVALID_JWT", "code"],
    [(d) => (d.ipai as Record<string, unknown>).retryable = true, "retryable"],
    [(d) => {
      d.type = "urn:ipai:failure:NOPE.NOT_A_CODE";
      (d.ipai as Record<string, unknown>).code = "NOPE.NOT_A_CODE";
    }, "not in the taxonomy"],
    [(d) => delete d.ipai, "ipai"],
    [(d) => (d.ipai as Record<string, unknown>).code = null, "code"],
    [(d) => d.type = "urn:ipai:problem:bad-request", "type"],
    [(d) => d.instance = "not a uri reference", "uri-reference"],
  ];
  for (const [change, needle] of cases) {
    const doc = failure(FALLBACK_MODES, "ENV.KEY_MISSING", "X is not set", { instance: "/x" });
    change(doc);
    const errors = validate(doc, FALLBACK_MODES);
    assert(errors.some((e) => e.includes(needle)), `${needle}: ${JSON.stringify(errors)}`);
  }
  assertEquals(
    validate(failure(FALLBACK_MODES, "ENV.KEY_MISSING", "x", {}, "acme"), FALLBACK_MODES, "acme"),
    [],
  );
});

Deno.test("format uri-reference is checked, in the RFC 9457 base schema too", () => {
  assert(isProblemDetails({ type: "https://example.com/probs/x", instance: "/a/b?c#d" }));
  assert(!isProblemDetails({ type: "not a uri" }));
  assert(!isProblemDetails({ instance: "http://[::1" }));
});
