"""Grouping (version 20 now) through the real parts: `ops errors regroup` on groups an older version wrote."""

from __future__ import annotations

import json

import psycopg

from tests.test_cli import ops

MESSAGES = ["API Error: 529 overloaded_error request_id req_011CSHoEeqs5C35K2UUqR7Fy",
            "API Error: 529 overloaded_error request_id req_011CTZq9d1YxVb7Pw3Lk2MnR",
            "API Error: 529 overloaded_error request_id req_011CUaa8e2ZwWc8Qx4Ml3NoS"]


def _version_one_groups(conn) -> None:
    """Three events that version 1 split into three groups (one per request id), as version 1 left them."""
    for m in MESSAGES:
        conn.execute("SELECT ops.record_error(source => 'agent_runner', message => %s)", (m,))
    conn.execute("SELECT set_config('ops.maintenance', 'on', true)")
    conn.execute("UPDATE ops.error_events SET fingerprint = 'v1-' || md5(message), fingerprint_version = 1")
    conn.execute("DELETE FROM ops.agent_errors")
    conn.execute("""INSERT INTO ops.agent_errors (fingerprint, fingerprint_version, code, source, count, first_seen_at,
                                                  last_seen_at, sample_message, matched_pattern)
                    SELECT fingerprint, 1, code, source, 4, received_at - interval '2 days', received_at, message,
                           matched_pattern
                    FROM ops.error_events""")
    conn.execute("INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload) "
                 "SELECT fingerprint || ':threshold', fingerprint, code, 'threshold', 'oncall', 4, '{}' "
                 "FROM ops.agent_errors LIMIT 1")
    conn.commit()


def test_regroup_merges_version_one_groups_keeping_counts_and_history(db_url):
    with psycopg.connect(db_url) as conn:
        _version_one_groups(conn)

        dry = ops("errors", "regroup", "--json", url=db_url)
        assert dry.returncode == 0, dry.stderr
        plan = json.loads(dry.stdout)
        assert plan["applied"] is False and len(plan["moves"]) == 3
        assert len({m["new_fingerprint"] for m in plan["moves"]}) == 1, "the current version sees one error"
        assert conn.execute("SELECT count(*) FROM ops.agent_errors WHERE fingerprint_version = 1").fetchone()[0] == 3

        applied = ops("errors", "regroup", "--apply", url=db_url)
        assert applied.returncode == 0, applied.stderr
        assert "moved 3 group(s) into 1 group(s), 12 occurrence(s)" in applied.stdout

        rows = conn.execute("SELECT fingerprint, count, fingerprint_version, first_seen_at < now() - interval '1 day' "
                            "FROM ops.agent_errors").fetchall()
        version = conn.execute("SELECT ops.current_fingerprint_version()").fetchone()[0]
        assert len(rows) == 1 and rows[0][1:] == (12, version, True), rows
        new = rows[0][0]
        assert conn.execute("SELECT count(*) FROM ops.error_aliases WHERE target_fingerprint = %s", (new,)).fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM ops.error_events WHERE fingerprint = %s "
                            "AND fingerprint_version = ops.current_fingerprint_version()",
                            (new,)).fetchone()[0] == 3
        assert conn.execute("SELECT fingerprint FROM ops.escalations").fetchone()[0] == new, "history follows its group"

        # Another event of the same failure lands in the regrouped group and does not escalate again.
        conn.execute("SELECT ops.record_error(source => 'agent_runner', message => %s)",
                     ("API Error: 529 overloaded_error request_id req_011CVbb9f3AxXd9Ry5Nm4OpT",))
        conn.commit()
        assert conn.execute("SELECT count FROM ops.agent_errors WHERE fingerprint = %s", (new,)).fetchone()[0] == 13
        assert conn.execute("SELECT count(*) FROM ops.escalations").fetchone()[0] == 1

        again = ops("errors", "regroup", url=db_url)
        assert again.returncode == 0 and "nothing to regroup" in again.stdout
