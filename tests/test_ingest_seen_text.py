"""A text seen before is stored without redacting it again (issue 12), and that never lets a secret through.

The ingest trigger looks up the classification cache with the message and top frame as sent. A hit means they
equal the redacted text an earlier event was classified under, with the current redaction rules, so the trigger
stores them as sent and prefilters only the other fields. These tests prove the three things that makes true:
the shortcut is taken (ops.redact is not called for a seen text that has a prefilter literal), a change of the
redaction rules makes every entry unreadable (otherwise a new rule would not apply to a text seen under the old
ones), and ops.redact returns its own output unchanged (so a text stored as sent is what redacting it would store).
tests/test_ingest_cache.py checks that a hit stores exactly what a miss stored, secrets included.
"""

from __future__ import annotations

import re

import psycopg
import yaml

from worker import ROOT, realworld, ssot

INSERT = "INSERT INTO ops.error_events (source, phase, message, top_frame, run_id) VALUES (%s, %s, %s, %s, %s) RETURNING id"
# A message with a prefilter literal ("://", "token") but nothing any rule redacts.
PLAIN = ("supabase_fn", "invoke", "FetchError: request to https://api.example.com/v1/items failed, reason: token bucket "
         "empty", "at fetch (https://esm.sh/x.js:1:2)", "run-7")
FIRST_MIGRATION_THAT_NEEDS_IT = "20261203000400"


def _redact_calls(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT calls FROM pg_stat_xact_user_functions WHERE schemaname = 'ops' AND funcname = 'redact'"
                       ).fetchone()
    return row[0] if row else 0


def test_a_seen_text_is_stored_as_sent_without_calling_redact(conn):
    conn.execute("SET track_functions = 'all'")
    first = conn.execute(INSERT, PLAIN).fetchone()[0]
    after_first = _redact_calls(conn)
    assert after_first >= 2, "the first sight redacts the message and top frame (both have a prefilter literal)"
    second = conn.execute(INSERT, PLAIN).fetchone()[0]
    assert _redact_calls(conn) == after_first, "the second sight of the same text called ops.redact"
    a, b = conn.execute("SELECT message, top_frame, code, fingerprint FROM ops.error_events WHERE id = ANY (%s) ORDER BY id",
                        ([first, second],)).fetchall()
    assert a == b and a[0] == PLAIN[2]
    # The other fields are still prefiltered and redacted on a hit: a token in the run id is redacted.
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    third = conn.execute(INSERT, (*PLAIN[:4], token)).fetchone()[0]
    run_id, message = conn.execute("SELECT run_id, message FROM ops.error_events WHERE id = %s", (third,)).fetchone()
    assert token not in run_id and "REDACTED" in run_id and message == PLAIN[2]


def test_a_text_with_a_secret_is_redacted_every_time(conn):
    secret = "sk-" + "proj-" + "Zx9" * 12
    message = f"openai.AuthenticationError: Incorrect API key provided: {secret}"
    ids = [conn.execute(INSERT, ("agent_runner", None, message, None, None)).fetchone()[0] for _ in range(3)]
    stored = {r[0] for r in conn.execute("SELECT message FROM ops.error_events WHERE id = ANY (%s)", (ids,))}
    assert len(stored) == 1 and secret not in stored.pop()


def test_a_redaction_rule_change_makes_seen_texts_unreadable(conn):
    """Without the version raised by a rule change, the second insert would hit the entry of the first (the text
    was unchanged by the old rules) and store the marker-to-be in the clear."""
    message = "webhook rejected: zebra9f3k2q not accepted"
    first = conn.execute(INSERT, ("github_actions", "deploy", message, None, None)).fetchone()[0]
    version = conn.execute("SELECT version FROM ops_private.taxonomy_version").fetchone()[0]
    conn.execute("INSERT INTO ops.redaction_rules (name, position, pattern, replacement, flags, prefilter) "
                 "VALUES ('test_zebra', 999, 'zebra[0-9a-z]+', '[REDACTED:test_zebra]', 'g', ARRAY['zebra'])")
    assert conn.execute("SELECT version FROM ops_private.taxonomy_version").fetchone()[0] > version
    second = conn.execute(INSERT, ("github_actions", "deploy", message, None, None)).fetchone()[0]
    rows = dict(conn.execute("SELECT id, message FROM ops.error_events WHERE id = ANY (%s)", ([first, second],)).fetchall())
    assert rows[first] == message
    assert rows[second] == "webhook rejected: [REDACTED:test_zebra] not accepted"
    # Changing a rule's pattern and removing a rule raise it too.
    for statement in ("UPDATE ops.redaction_rules SET pattern = 'zebra[0-9]+' WHERE name = 'test_zebra'",
                      "DELETE FROM ops.redaction_rules WHERE name = 'test_zebra'"):
        before = conn.execute("SELECT version FROM ops_private.taxonomy_version").fetchone()[0]
        conn.execute(statement)
        assert conn.execute("SELECT version FROM ops_private.taxonomy_version").fetchone()[0] > before, statement


def test_a_sync_that_changes_nothing_keeps_the_cache(conn):
    ssot.sync(conn)
    conn.execute(INSERT, PLAIN)
    version, entries = conn.execute("SELECT (SELECT version FROM ops_private.taxonomy_version), "
                                    "(SELECT count(*) FROM ops_private.classification_cache)").fetchone()
    ssot.sync(conn)
    assert conn.execute("SELECT (SELECT version FROM ops_private.taxonomy_version), "
                        "(SELECT count(*) FROM ops_private.classification_cache)").fetchone() == (version, entries)


def test_redact_returns_its_own_output_unchanged(module_db_url):
    """redact(redact(x)) = redact(x) on every rule example in several surroundings and every real-world message."""
    texts = []
    for rule in yaml.safe_load((ROOT / "ssot/errors/redaction.yaml").read_text())["rules"]:
        for example in rule["examples"]:
            texts += [example, f"step failed: {example}", f'{{"env": "{example}"}}', f"url=https://x.test/?q={example}&a=1"]
    texts += [m.text for m in realworld.load_tuned()]
    with psycopg.connect(module_db_url) as conn:
        changed = conn.execute("SELECT x FROM unnest(%s::text[]) AS t (x) WHERE ops.redact(ops.redact(x)) <> ops.redact(x)",
                               (texts,)).fetchall()
    assert len(texts) > 1000
    assert changed == []


def test_a_migration_that_changes_redact_raises_the_taxonomy_version():
    """From this design on, a migration that redefines ops.redact must make the cache's entries unreadable (the one
    that made the design does, for the rule changes made before it)."""
    first = ROOT / "sql" / f"{FIRST_MIGRATION_THAT_NEEDS_IT}_ingest_seen_text.sql"
    assert "UPDATE ops_private.taxonomy_version SET version = version + 1" in first.read_text()
    for path in sorted((ROOT / "sql").glob("*.sql")):
        if path.name[:14] < FIRST_MIGRATION_THAT_NEEDS_IT:
            continue
        text = path.read_text()
        if re.search(r"FUNCTION\s+ops\.redact\s*\(", text):
            assert "UPDATE ops_private.taxonomy_version SET version = version + 1" in text, path.name
