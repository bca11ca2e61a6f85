import RULES from "./redaction_rules.json" with { type: "json" };
import { redact } from "./redaction.ts";
import { failure, FALLBACK_MODES } from "./problem.ts";
import { assert, assertEquals, connect, NO_DB } from "./testing.ts";

// Strings where PostgreSQL, JavaScript (and Python) regexes could disagree: Unicode spaces that
// are and are not [[:space:]], letters that case-fold to ASCII in one engine only, astral
// characters, replacement syntax in the input, secrets next to each other, prefilter edge cases.
// The values are fake.
export const NASTY: string[] = [
  "",
  "nothing to see",
  "Authorization: Bearer\u3000abcdefghijklmnop",
  "Authorization: Bearer\u00a0abcdefghijklmnop",
  "Authorization: Bearer\u2007abcdefghijklmnop",
  "Authorization: Bearer\u202fabcdefghijklmnop",
  "Authorization: Bearer\ufeffabcdefghijklmnop",
  "Authorization: Bearer\u1680\u2028abcdefghijklmnop",
  "authorization: BEARER \t\n abcdefghijklmnop",
  "\u212Aey=not-a-key ſecret=x İD_TOKEN=abcdef password\u3000=\u3000hunter2",
  "prİvate key----- -----BEGIN RSA PRIVATE KEY-----abc",
  "DB_PASSWORD=hunter2&api_key=abc,token:xyz;secret='q'",
  '{"api_key": "abc123def456", "client_secret":"s3cr3t"}',
  "postgres://app:hunter2@db.internal:5432/app and mysql://root:pw\u2003x@h",
  "HTTPS://User:Pa$$w0rd@example.com/x?token=1",
  "x-api-key: sk-ant-api03-abcdefghijklmnopqrstu_sk-proj-abcdefghijklmnopqrstuvwx",
  "_sk-abcdefghijklmnopqrstuvwx -sk-abcdefghijklmnopqrstuvwx sk-abcdefghijklmnopqrstuvwx",
  "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa😀ghp_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
  "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln.eyJhbGciOiJIUzI1NiJ9.eyJ",
  "EYJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln",
  "replacement syntax in the input: $1 $& \\1 \\& \\\\ token $$ abcdefgh",
  "-----BEGIN EC PRIVATE KEY-----\r\nMHcCAQEE\u2028\r\n-----END EC PRIVATE KEY----- trailing",
  "-----BEGIN PRIVATE KEY-----MIIE-----END RSA",
  "AKIAABCDEFGHIJKLMNOP ASIAABCDEFGHIJKLMNO akiaabcdefghijklmnop",
  "sk_live_abcdefghijklmnop rk_test_ABCDEFGHIJ pk_live_short",
  "xoxb-123456789012-abcdefghijkl xoxz-123456789012-abcdefghijkl",
  "https://hooks.slack.com/services/T000/B000/XXXXXXXX\u00a0next",
  "sb_secret_abcdefghijklmnop sb_publishable_ABCDEFGHIJ sb_secret_short",
  "github_pat_11AAAAAAA0aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbb",
  "token token token abcdefgh basic\u2029abcdefgh",
  "tab\tseparated\tpassword\t=\thunter2\tend",
  "\u0085password=\u0085x \u001cpassword=\u001cy",
  "service-role-key: abc service_role_key=def SERVICE_ROLE_KEY:ghi",
  "a\ud83d\ude00://u\ud83d\ude00:p\ud83d\ude00@h",
  "[REDACTED:jwt] already password=[REDACTED] here",
  "x".repeat(5000) + " password=" + "y".repeat(3000),
];

const examples = RULES.rules.flatMap((r) => r.examples);

Deno.test("every rule changes its own examples", () => {
  for (const r of RULES.rules) {
    for (const e of r.examples) assert(redact(e) !== e, `${r.name}: ${e}`);
  }
});

Deno.test("redact() equals ops.redact() on every rule example and on nasty strings", {
  ignore: NO_DB,
}, async () => {
  const texts = [...examples, ...NASTY];
  const sql = connect();
  try {
    const rows = await sql`SELECT ops.redact(t.x) AS r
                           FROM jsonb_array_elements_text(${JSON.stringify(texts)}::text::jsonb)
                                WITH ORDINALITY AS t (x, n)
                           ORDER BY t.n`;
    assertEquals(rows.length, texts.length);
    texts.forEach((t, i) => assertEquals(redact(t), rows[i].r, JSON.stringify(t).slice(0, 200)));
  } finally {
    await sql.end();
  }
});

Deno.test("detail, where, correlation_id and run_id are redacted in envelopes", () => {
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln";
  const doc = failure(FALLBACK_MODES, "AUTH.INVALID_JWT", `token ${jwt} refused`, {
    where: "supabase_fn:x?password=hunter2",
    correlation_id: `Bearer ${jwt}`,
    run_id: "ghp_" + "a".repeat(36),
  });
  const ext = doc.ipai as Record<string, string>;
  const text = JSON.stringify(doc);
  assert(!text.includes("eyJ") && !text.includes("hunter2") && !text.includes("ghp_"), text);
  assert(doc.detail.includes("[REDACTED:jwt]"), doc.detail);
  assert(ext.where.includes("[REDACTED]") && ext.run_id.includes("[REDACTED"), text);
});
