// The GitHub webhook against a real PostgreSQL (pytest passes SUPABASE_DB_URL): GitHub's documented
// signature test vector, forged and unsigned deliveries, replays, matching by branch and PR, and
// payloads in GitHub's shapes (trimmed to the fields the function reads, names anonymized; the shapes
// follow the payload examples GitHub publishes for these events).
import { createGithubWebhookHandler, outcomeOf, signatureValid } from "./handler.ts";
import {
  assert,
  assertEquals,
  connect,
  DB_URL,
  envelopeErrors,
  NO_DB,
} from "../_shared/testing.ts";

// A GitHub token shape the redaction rules know, built at run time so no token-like literal sits in the repo.
const FAKE_TOKEN = "ghp_" + "a1B2".repeat(9);

const SECRET = "whsec_github_test";
const URL_ = "http://localhost/github-webhook";
const BRANCH = "fixbot/41-ci-tests-failed";
const PR = "https://github.com/acme/app/pull/41";

async function hmacHex(secret: string, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, body as Uint8Array<ArrayBuffer>),
  );
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function delivery(event: string, id: string, payload: unknown, secret = SECRET) {
  const body = new TextEncoder().encode(JSON.stringify(payload));
  return new Request(URL_, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": id,
      "x-hub-signature-256": `sha256=${await hmacHex(secret, body)}`,
      "user-agent": "GitHub-Hookshot/test",
    },
  });
}

async function problem(res: Response, status: number) {
  assertEquals(res.status, status);
  assertEquals(res.headers.get("content-type"), "application/problem+json");
  const doc = await res.json();
  assertEquals(envelopeErrors(doc), []);
  return doc;
}

const pullRequest = (action: string, merged = false) => ({
  action,
  number: 41,
  pull_request: {
    html_url: PR,
    number: 41,
    state: action === "closed" ? "closed" : "open",
    merged,
    created_at: "2026-11-30T01:00:00Z",
    closed_at: action === "closed" ? "2026-11-30T03:00:00Z" : null,
    merged_at: merged ? "2026-11-30T03:00:00Z" : null,
    head: { ref: BRANCH, sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821" },
    base: { ref: "main", sha: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e" },
  },
  repository: { full_name: "acme/app" },
  sender: { login: "fixbot[bot]" },
});

const checkRun = (name: string, conclusion: string, branch = BRANCH) => ({
  action: "completed",
  check_run: {
    name,
    status: "completed",
    conclusion,
    head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    html_url: "https://github.com/acme/app/runs/128620228",
    completed_at: "2026-11-30T01:20:00Z",
    check_suite: { head_branch: branch, head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821" },
    app: { name: "GitHub Actions" },
    pull_requests: [{ url: "https://api.github.com/repos/acme/app/pulls/41", number: 41 }],
  },
  repository: { full_name: "acme/app" },
});

const checkSuite = (conclusion: string) => ({
  action: "completed",
  check_suite: {
    head_branch: BRANCH,
    head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    status: "completed",
    conclusion,
    updated_at: "2026-11-30T01:21:14Z",
    app: { name: "GitHub Actions" },
    pull_requests: [{ url: "https://api.github.com/repos/acme/app/pulls/41", number: 41 }],
  },
  repository: { full_name: "acme/app" },
});

const review = (state: string, body: string) => ({
  action: "submitted",
  review: {
    user: { login: "reviewer-1" },
    body,
    commit_id: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    submitted_at: "2026-11-30T02:00:00Z",
    state,
    html_url: `${PR}#pullrequestreview-1`,
  },
  pull_request: { html_url: PR, number: 41, head: { ref: BRANCH } },
  repository: { full_name: "acme/app" },
});

Deno.test("GitHub's documented test vector verifies; anything else does not", async () => {
  const body = new TextEncoder().encode("Hello, World!");
  const documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  assert(await signatureValid("It's a Secret to Everybody", body, documented), "GitHub's vector");
  assert(!(await signatureValid("It's a Secret to Everybody!", body, documented)), "other secret");
  assert(!(await signatureValid("It's a Secret to Everybody", body, documented.toUpperCase())));
  assert(!(await signatureValid("It's a Secret to Everybody", body, documented.slice(7))));
  assert(!(await signatureValid("It's a Secret to Everybody", body, null)));
});

Deno.test("wrong, missing and stale-secret signatures are 401 Problem Details", async () => {
  const h = createGithubWebhookHandler((n) =>
    ({ GITHUB_WEBHOOK_SECRET: SECRET } as Record<string, string>)[n]
  );
  const forged = await delivery("check_suite", "f-1", checkSuite("success"), "not-the-secret");
  const doc = await problem(await h.handle(forged), 401);
  assertEquals([doc.ipai.code, doc.reason], ["AUTH.WEBHOOK_SIGNATURE_INVALID", "bad_signature"]);
  const signed = await delivery("check_suite", "f-2", checkSuite("success"));
  const tampered = new Request(URL_, {
    method: "POST",
    headers: signed.headers,
    body: JSON.stringify(checkSuite("failure")),
  });
  assertEquals((await problem(await h.handle(tampered), 401)).reason, "bad_signature");
  const bare = new Request(URL_, {
    method: "POST",
    body: "{}",
    headers: { "x-github-event": "ping" },
  });
  assertEquals((await problem(await h.handle(bare), 401)).reason, "missing_signature");
  await problem(await h.handle(new Request(URL_)), 405);
  assertEquals(
    (await h.handle(await delivery("ping", "p-1", { zen: "Keep it logically awesome." }))).status,
    200,
  );
  const noSecret = createGithubWebhookHandler(() => undefined);
  assertEquals((await problem(await noSecret.handle(signed), 503)).ipai.code, "ENV.KEY_MISSING");
  await h.close();
});

Deno.test("events map to outcomes; other actions are ignored", () => {
  const merged = outcomeOf("pull_request", pullRequest("closed", true));
  assert(typeof merged !== "string");
  assertEquals([merged.kind, merged.state, merged.branch, merged.pr_url], [
    "pull_request",
    "merged",
    BRANCH,
    PR,
  ]);
  const suite = outcomeOf("check_suite", checkSuite("success"));
  assert(typeof suite !== "string");
  assertEquals([suite.state, suite.target_fixed, suite.regressions, suite.check_name], [
    "success",
    true,
    0,
    null,
  ]);
  const red = outcomeOf("check_run", checkRun("lint", "failure"));
  assert(typeof red !== "string");
  assertEquals([red.state, red.check_name, red.target_fixed, red.branch], [
    "failure",
    "lint",
    null,
    BRANCH,
  ]);
  const approved = outcomeOf("pull_request_review", review("APPROVED", "ok"));
  assert(typeof approved !== "string");
  assertEquals([approved.kind, approved.state], ["review", "approved"]);
  assertEquals(
    outcomeOf("pull_request", pullRequest("labeled")),
    "pull_request labeled is not an outcome",
  );
  assertEquals(outcomeOf("push", {}), "event push is not an outcome");
});

Deno.test(
  "deliveries are matched to the run, stored once, rescored",
  { ignore: NO_DB },
  async () => {
    const vars: Record<string, string> = {
      GITHUB_WEBHOOK_SECRET: SECRET,
      SUPABASE_DB_URL: DB_URL!,
    };
    const h = createGithubWebhookHandler((n) => vars[n]);
    const sql = connect();
    try {
      const [{ id }] = await sql`
      INSERT INTO ops.agent_runs (fingerprint, code, policy_ref, status, branch, patch, verdict, metadata)
      VALUES ('fp-gh-' || gen_random_uuid(), 'CI.TESTS_FAILED', 'ssot/agents/fixbot_policy.yaml', 'succeeded',
              ${BRANCH}, 'diff --git a/x b/x', '{"approved": true, "changed_lines": 4}',
              '{"target_check": "test", "variant_id": "baseline"}')
      RETURNING id`;
      const opened = await h.handle(await delivery("pull_request", "gh-1", pullRequest("opened")));
      assertEquals(opened.status, 200);
      const first = await opened.json();
      assertEquals([first.run_id, first.duplicate], [Number(id), false]);
      const again =
        await (await h.handle(await delivery("pull_request", "gh-1", pullRequest("opened"))))
          .json();
      assertEquals([again.outcome_id, again.duplicate], [first.outcome_id, true]);

      const lint = await h.handle(await delivery("check_run", "gh-2", checkRun("lint", "failure")));
      assertEquals((await lint.json()).duplicate, false);
      const score = async () =>
        (await sql`SELECT resolved, outcome FROM ops.agent_benchmark_results WHERE run_id = ${id}`)[
          0
        ];
      assertEquals(await score(), { resolved: false, outcome: "ci_failed" });
      await h.handle(await delivery("check_run", "gh-3", checkRun("test", "success")));
      await h.handle(await delivery("check_run", "gh-4", checkRun("lint", "success")));
      assertEquals(await score(), { resolved: true, outcome: "resolved" });
      await h.handle(
        await delivery(
          "pull_request_review",
          "gh-5",
          review(
            "changes_requested",
            `please drop ${FAKE_TOKEN} from the log`,
          ),
        ),
      );
      await h.handle(await delivery("pull_request", "gh-6", pullRequest("closed", true)));

      const rows = await sql`
      SELECT kind, state, check_name, target_fixed, delivery_id, detail ->> 'comment' AS comment
      FROM ops.agent_run_outcomes WHERE run_id = ${id} ORDER BY id`;
      assertEquals(
        rows.map((r) => [r.kind, r.state, r.check_name, r.target_fixed, r.delivery_id]),
        [
          ["pull_request", "opened", null, null, "gh-1"],
          ["ci", "failure", "lint", null, "gh-2"],
          ["ci", "success", "test", true, "gh-3"],
          ["ci", "success", "lint", null, "gh-4"],
          ["review", "changes_requested", null, null, "gh-5"],
          ["pull_request", "merged", null, null, "gh-6"],
        ],
      );
      assert(!String(rows[4].comment).includes(FAKE_TOKEN), "the reviewer's comment is redacted");
      assertEquals((await sql`SELECT pr_url FROM ops.agent_runs WHERE id = ${id}`)[0].pr_url, PR);

      const stranger = await h.handle(
        await delivery("check_run", "gh-7", checkRun("test", "success", "someone/feature")),
      );
      assertEquals(stranger.status, 202);
      assertEquals(
        (await stranger.json()).ignored,
        "no agent run worked on branch someone/feature",
      );
      assertEquals(
        (await sql`SELECT count(*)::int AS n FROM ops.agent_run_outcomes WHERE delivery_id = 'gh-7'`)[
          0
        ].n,
        0,
      );
      const labeled = await h.handle(
        await delivery("pull_request", "gh-8", pullRequest("labeled")),
      );
      assertEquals(labeled.status, 202);

      const form = new Request(URL_, {
        method: "POST",
        body: "payload=%7B%7D",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-github-event": "check_suite",
          "x-github-delivery": "gh-9",
          "x-hub-signature-256": `sha256=${await hmacHex(
            SECRET,
            new TextEncoder().encode("payload=%7B%7D"),
          )}`,
        },
      });
      assertEquals(
        (await problem(await h.handle(form), 415)).ipai.code,
        "HTTP.UNSUPPORTED_MEDIA_TYPE",
      );
    } finally {
      await sql.end();
      await h.close();
    }
  },
);
