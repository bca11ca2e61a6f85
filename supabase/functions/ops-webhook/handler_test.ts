import { createWebhookHandler } from "./handler.ts";
import { sign } from "../_shared/signing.ts";
import { assertEquals, connect, DB_URL, envelopeErrors, NO_DB } from "../_shared/testing.ts";

const SECRET = "whsec_test";
const URL_ = "http://localhost/ops-webhook";
const BODY = new TextEncoder().encode('{"escalation_id":1}');

async function signed(id: string, ts?: number, body = BODY) {
  return new Request(URL_, { method: "POST", body, headers: await sign(SECRET, body, id, ts) });
}

async function problem(res: Response, status: number) {
  assertEquals(res.status, status);
  assertEquals(res.headers.get("content-type"), "application/problem+json");
  const doc = await res.json();
  assertEquals(envelopeErrors(doc), []);
  return doc;
}

Deno.test("a signed delivery is processed once; re-deliveries are duplicates; replays, forgeries and stale ones are 401", async () => {
  const h = createWebhookHandler((n) =>
    ({ OPS_WEBHOOK_SECRET: SECRET } as Record<string, string>)[n]
  );
  const now = Math.trunc(Date.now() / 1000);
  assertEquals((await h.handle(await signed("d-1", now))).status, 204);
  const replay = await problem(await h.handle(await signed("d-1", now)), 401);
  assertEquals([replay.ipai.code, replay.reason], ["AUTH.WEBHOOK_SIGNATURE_INVALID", "replayed"]);
  const redelivery = await h.handle(await signed("d-1", now + 1));
  assertEquals(redelivery.status, 200);
  assertEquals(await redelivery.json(), { duplicate: true, delivery_id: "d-1" });
  const stale = await problem(await h.handle(await signed("d-2", Date.now() / 1000 - 600)), 401);
  assertEquals(stale.reason, "expired");
  const req = await signed("d-3");
  const forged = new Request(URL_, {
    method: "POST",
    body: '{"escalation_id":2}',
    headers: req.headers,
  });
  assertEquals((await problem(await h.handle(forged), 401)).reason, "bad_signature");
  const bare = new Request(URL_, { method: "POST", body: "{}" });
  assertEquals((await problem(await h.handle(bare), 401)).reason, "missing_header");
  await problem(await h.handle(new Request(URL_)), 405);
  await h.close();
});

Deno.test("no secret is ENV.KEY_MISSING 503", async () => {
  const h = createWebhookHandler(() => undefined);
  const doc = await problem(await h.handle(await signed("d-1")), 503);
  assertEquals(doc.ipai.code, "ENV.KEY_MISSING");
});

Deno.test("signature failures are recorded through the pipeline", { ignore: NO_DB }, async () => {
  const vars: Record<string, string> = { OPS_WEBHOOK_SECRET: SECRET, SUPABASE_DB_URL: DB_URL! };
  const h = createWebhookHandler((n) => vars[n]);
  const sql = connect();
  try {
    const count = async () =>
      (await sql`SELECT count(*)::int AS n FROM ops.error_events
                 WHERE code = 'AUTH.WEBHOOK_SIGNATURE_INVALID' AND origin = 'supabase_fn:ops-webhook'`)[
        0
      ].n;
    const before = await count();
    await problem(await h.handle(new Request(URL_, { method: "POST", body: "{}" })), 401);
    assertEquals(await count(), before + 1);
  } finally {
    await sql.end();
    await h.close();
  }
});

Deno.test(
  "an unexpected exception is 500 UNKNOWN.SUPABASE_FN, recorded",
  { ignore: NO_DB },
  async () => {
    const h = createWebhookHandler((name) => {
      if (name === "OPS_WEBHOOK_TOLERANCE") throw new Error("boom: environment unavailable");
      return ({ OPS_WEBHOOK_SECRET: SECRET, SUPABASE_DB_URL: DB_URL! } as Record<string, string>)[
        name
      ];
    });
    const sql = connect();
    try {
      const count = async () =>
        (await sql`SELECT count(*)::int AS n FROM ops.error_events WHERE code = 'UNKNOWN.SUPABASE_FN'
                 AND origin = 'supabase_fn:ops-webhook' AND message LIKE '%boom%'`)[0].n;
      const before = await count();
      const doc = await problem(await h.handle(await signed("d-boom")), 500);
      assertEquals(doc.ipai.code, "UNKNOWN.SUPABASE_FN");
      assertEquals(await count(), before + 1);
    } finally {
      await sql.end();
      await h.close();
    }
  },
);
