"""The aggregate trigger's two paths give the same rows (issue 12, eighth pass).

A statement of one row upserts its group by INSERT ... VALUES and decides its crossings in PL/pgSQL; a statement of
more rows takes the general upsert over the transition table. The same events go into two databases: one event per
statement in the first (the single-row path), the same event plus an unrelated companion event in the second (the
general path). Every group, escalation, FixBot run and status change of the events' own groups must be equal: counts,
windows, thresholds, regressions, ignores, samples, last ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

WINDOW = "INFRA.R2.PUBLISH_FAILED"      # escalates within a window
THRESHOLD = "UNIT.BROKEN_IMPORT"        # escalates once at a lifetime count
FIXBOT = "CI.SKILLS_REGISTRY_INVALID"   # queues a FixBot run
COMPANION = "UNIT.DAG_CYCLE"            # the second row that sends a statement down the general path
BASE = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)

INSERT = ("INSERT INTO ops.error_events (id, received_at, source, message, code, run_id, correlation_id) "
          "VALUES (%s, %s, 'github_actions', %s, %s, %s, %s)")

# (minute, code, message, run id) or (action, code[, argument]); digits are normalized away, so the messages of one
# code are one group with a different sample each time.
STEPS = [
    (0, WINDOW, "r2 publish failed: upload 1 of 9 refused", "run-a"),
    (1, WINDOW, "r2 publish failed: upload 2 of 9 refused", None),
    (1, THRESHOLD, "broken import in unit 17", "run-b"),
    (2, WINDOW, "r2 publish failed: upload 3 of 9 refused", "run-c"),   # crosses: 3 in the window
    (3, WINDOW, "r2 publish failed: upload 4 of 9 refused", None),
    (3, THRESHOLD, "broken import in unit 18", None),
    (4, FIXBOT, "skills registry invalid at line 4", "run-d"),
    (5, THRESHOLD, "broken import in unit 19", "run-e"),              # crosses the threshold
    (5, FIXBOT, "skills registry invalid at line 5", None),           # crosses: a FixBot run
    (6, THRESHOLD, "broken import in unit 20", None),
    ("resolve", THRESHOLD),
    (7, THRESHOLD, "broken import in unit 21", "run-f"),              # regression
    (8, THRESHOLD, "broken import in unit 22", None),                 # still regressed: the same dedupe key
    (15, WINDOW, "r2 publish failed: upload 5 of 9 refused", "run-g"),  # a new window opens
    (16, WINDOW, "r2 publish failed: upload 6 of 9 refused", None),
    (17, WINDOW, "r2 publish failed: upload 7 of 9 refused", None),   # crosses again
    ("ignore", WINDOW, BASE + timedelta(days=3650)),
    (30, WINDOW, "r2 publish failed: upload 8 of 9 refused", None),
    (31, WINDOW, "r2 publish failed: upload 9 of 9 refused", None),
    (32, WINDOW, "r2 publish failed: upload 10 of 9 refused", None),  # would cross: ignored
    ("reopen", WINDOW),
    (45, WINDOW, "r2 publish failed: upload 11 of 9 refused", "run-h"),
    (46, WINDOW, "r2 publish failed: upload 12 of 9 refused", None),
    (47, WINDOW, "r2 publish failed: upload 13 of 9 refused", None),  # crosses after the reopen
    ("resolve", FIXBOT),
    (50, FIXBOT, "skills registry invalid at line 50", None),         # regression of a FixBot code
]


def replay(url: str, general: bool) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE ops.failure_modes SET escalate_after_count = 3, escalate_within = interval '10 minutes' "
                     "WHERE code = %s", (WINDOW,))
        conn.execute("UPDATE ops.failure_modes SET escalate_after_count = 3 WHERE code = %s", (THRESHOLD,))
        conn.execute("UPDATE ops.failure_modes SET escalate_after_count = 2 WHERE code = %s", (FIXBOT,))
        conn.execute("UPDATE ops.failure_modes SET escalate_after_count = 1000000, escalate_within = NULL "
                     "WHERE code = %s", (COMPANION,))
        # Page budgets hold crossings by the clock (now()), not by the events' times: off, so every crossing pages.
        # The budget half is one code for both paths, fed the same crossings.
        conn.execute("UPDATE ops.destinations SET config = config - 'digest'")
        for n, step in enumerate(STEPS):
            if isinstance(step[0], str):
                fingerprint = conn.execute("SELECT fingerprint FROM ops.agent_errors WHERE code = %s",
                                           (step[1],)).fetchone()[0]
                if step[0] == "resolve":
                    conn.execute("SELECT ops.set_error_status(%s, 'resolved')", (fingerprint,))
                elif step[0] == "ignore":
                    conn.execute("SELECT ops.ignore_error(%s, %s)", (fingerprint, step[2]))
                else:
                    conn.execute("SELECT ops.reopen_error(%s)", (fingerprint,))
                continue
            minute, code, message, run_id = step
            at = BASE + timedelta(minutes=minute)
            row = (1000 + 2 * n, at, message, code, run_id, f"corr-{n}" if run_id else None)
            if general:
                # The event and a companion of another group in one statement: two rows, the general path.
                conn.execute(INSERT + ", (%s, %s, 'github_actions', 'dag cycle in unit 1', %s, NULL, NULL)",
                             (*row, 1001 + 2 * n, at, COMPANION))
            else:
                conn.execute(INSERT, row)
        return snapshot(conn)


def snapshot(conn) -> dict:
    def rows(sql: str) -> list:
        return conn.execute(sql, (COMPANION,)).fetchall()
    return {
        # resolved_at is the clock of `ops resolve`, not of the events: whether it is set is compared.
        "groups": rows("SELECT to_jsonb(a) - 'resolved_at', a.resolved_at IS NOT NULL FROM ops.agent_errors a "
                       "WHERE a.code <> %s ORDER BY a.fingerprint"),
        "escalations": rows("SELECT dedupe_key, fingerprint, code, reason, destination, count_at, payload, state "
                            "FROM ops.escalations WHERE code <> %s ORDER BY dedupe_key"),
        "runs": rows("SELECT fingerprint, code, status, policy_ref, evidence, metadata FROM ops.agent_runs "
                     "WHERE code <> %s ORDER BY fingerprint, id"),
        "status_changes": rows("SELECT fingerprint, from_status, to_status, actor, resolution_ref, ignored_until "
                               "FROM ops.error_status_changes WHERE fingerprint NOT IN "
                               "(SELECT fingerprint FROM ops.agent_errors WHERE code = %s) ORDER BY id"),
    }


def test_one_row_and_many_rows_give_the_same_groups_and_escalations(dbs):
    with dbs.clone() as single_url, dbs.clone() as general_url:
        single = replay(single_url, general=False)
        general = replay(general_url, general=True)
    for part in ("groups", "escalations", "runs", "status_changes"):
        assert single[part] == general[part], part
    assert len(single["groups"]) == 3
    reasons = sorted((e[2], e[3]) for e in single["escalations"])
    # Three windows (the one crossed while ignored pages nothing), a threshold and a regression each for the
    # threshold and FixBot codes (the second event of a regressed group repeats the regression's dedupe key).
    assert reasons == [(FIXBOT, "regression"), (FIXBOT, "threshold"), (WINDOW, "window"), (WINDOW, "window"),
                       (WINDOW, "window"), (THRESHOLD, "regression"), (THRESHOLD, "threshold")], reasons
    assert [r[1] for r in single["runs"]] == [FIXBOT]
    assert [r[2] for r in single["status_changes"]].count("regressed") == 2
