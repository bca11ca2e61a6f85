"""Issue 12's correctness bar for the faster ingest: every corpus message is redacted, classified and
grouped IDENTICALLY before and after.

"Before" is the previous definitions of ops.redact and ops.error_fingerprint, read from the landed
migrations that last defined them (sql/20261129000300_grouping_v2.sql; sql/20261216000100_pattern_own_grouping.sql
for the fingerprint, whose tag is built from ops.current_fingerprint_version(), so a new version does not redefine it;
it last changed to give a pattern that says `grouping: pattern` its pattern's group)
and created as pg_temp functions in
the same database; both pipelines call the current ops.classify_error and ops.grouping_text. "After" is the ingest trigger
as it is now: each message is inserted twice; the first insert computes (cache miss) and is compared
with the old pipeline, the second reads the classification cache (hit) and is compared with the first. Corpora: the real-world messages and grouping pairs
(tests/fixtures/realworld), the labelled classification corpus, the redaction rules' examples (secrets)
and the synthetic demo feed.
"""

from __future__ import annotations

import json
import random
import re

import psycopg
import pytest
import yaml

from worker import ROOT, realworld
from worker.demo import events

OLD = ROOT / "sql" / "20261129000300_grouping_v2.sql"
OLD_FINGERPRINT = ROOT / "sql" / "20261216000100_pattern_own_grouping.sql"


def old_definition(name: str, temp_name: str) -> str:
    """The CREATE statement of ``ops.<name>`` in the old migration, renamed to ``pg_temp.<temp_name>``."""
    text = (OLD_FINGERPRINT if name == "error_fingerprint" else OLD).read_text()
    start = text.index(f"CREATE OR REPLACE FUNCTION ops.{name}(")
    body = text[start:]
    if "AS $$" in body.split(";", 1)[0] or re.match(r"[^;]*?\nAS \$\$", body, re.S):
        end = body.index("$$;", body.index("AS $$") + 5) + 3
    else:
        end = body.index(";\n") + 1
    return body[:end].replace(f"FUNCTION ops.{name}(", f"FUNCTION pg_temp.{temp_name}(", 1)


def corpus() -> list[dict]:
    rows = [{"source": m.source, "phase": m.phase, "message": m.text} for m in realworld.load()]
    for p in realworld.load_pairs():
        rows += [{"source": p.source, "phase": side[0], "message": side[1]} for side in (p.a, p.b)]
    for entry in yaml.safe_load((ROOT / "tests/fixtures/classification_corpus.yaml").read_text()):
        rows.append({"source": entry["source"], "phase": entry.get("phase"), "message": str(entry["message"])})
    for rule in yaml.safe_load((ROOT / "ssot/errors/redaction.yaml").read_text())["rules"]:
        for example in rule["examples"]:
            rows.append({"source": "github_actions", "phase": "test", "message": f"step failed: {example}",
                         "top_frame": f"at deploy ({example})", "run_id": example, "context": {"env": example}})
    feed = events(random.Random(12))
    for _ in range(150):
        e = next(feed)
        rows.append({"source": e["source"], "phase": e["phase"], "message": e["message"], "run_id": e["run_id"],
                     "origin": e["origin"], "context": e["context"]})
    return rows


INSERT = """
INSERT INTO ops.error_events (source, phase, message, top_frame, run_id, origin, context)
SELECT x.source, x.phase, x.message, x.top_frame, x.run_id, x.origin, x.context
FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS item (doc, n)
CROSS JOIN LATERAL jsonb_to_record(item.doc) AS x (source text, phase text, message text, top_frame text,
                                                     run_id text, origin text, context jsonb)
ORDER BY item.n
RETURNING id
"""

# What the old pipeline stored for an event without a code hint from a system role: the old redaction of
# each field, the classification of the redacted message, the old fingerprint of its grouping text.
EXPECTED = """
SELECT e.id,
       e.message IS NOT DISTINCT FROM pg_temp.old_redact(x.message) AS message_same,
       e.top_frame IS NOT DISTINCT FROM left(pg_temp.old_redact(nullif(btrim(x.top_frame), '')), 4096) AS top_frame_same,
       e.run_id IS NOT DISTINCT FROM left(pg_temp.old_redact(x.run_id), 256) AS run_id_same,
       e.context::text IS NOT DISTINCT FROM coalesce(pg_temp.old_redact(x.context::text), '{}') AS context_same,
       (e.code, e.confidence, e.matched_pattern) IS NOT DISTINCT FROM (c.code, c.confidence, c.matched_pattern) AS class_same,
       e.fingerprint = pg_temp.old_error_fingerprint(e.source, e.phase, c.code,
                                                     ops.grouping_text(e.message, c.code, c.matched_pattern),
                                                     e.top_frame) AS fingerprint_same,
       x.message
FROM unnest(%s::bigint[]) WITH ORDINALITY AS i (id, n)
JOIN ops.error_events e ON e.id = i.id
JOIN LATERAL (SELECT (%s::jsonb) -> (i.n::integer - 1) AS doc) d ON true
CROSS JOIN LATERAL jsonb_to_record(d.doc) AS x (source text, phase text, message text, top_frame text,
                                                 run_id text, origin text, context jsonb)
CROSS JOIN LATERAL ops.classify_error(e.source, e.phase, pg_temp.old_redact(x.message)) c
ORDER BY i.n
"""


@pytest.fixture(scope="module")
def compared(module_db_url):
    rows = corpus()
    doc = json.dumps(rows)
    with psycopg.connect(module_db_url) as conn:
        conn.execute(old_definition("redact", "old_redact"))
        conn.execute(old_definition("error_fingerprint", "old_error_fingerprint"))
        cache_before = conn.execute("SELECT count(*) FROM ops_private.classification_cache").fetchone()[0]
        miss = [r[0] for r in conn.execute(INSERT, (doc,)).fetchall()]
        cache_after = conn.execute("SELECT count(*) FROM ops_private.classification_cache").fetchone()[0]
        hit = [r[0] for r in conn.execute(INSERT, (doc,)).fetchall()]
        cache_again = conn.execute("SELECT count(*) FROM ops_private.classification_cache").fetchone()[0]
        result = {
            "rows": rows,
            "miss": conn.execute(EXPECTED, (miss, doc)).fetchall(),
            "cache": (cache_before, cache_after, cache_again),
            "pairs": conn.execute(
                "SELECT count(*) FROM unnest(%s::bigint[], %s::bigint[]) AS p (a, b) "
                "JOIN ops.error_events ea ON ea.id = p.a JOIN ops.error_events eb ON eb.id = p.b "
                "WHERE (ea.code, ea.confidence, ea.matched_pattern, ea.fingerprint, ea.message, ea.top_frame, ea.run_id, "
                "       ea.context) "
                "      IS DISTINCT FROM (eb.code, eb.confidence, eb.matched_pattern, eb.fingerprint, eb.message, "
                "                        eb.top_frame, eb.run_id, eb.context)",
                (miss, hit)).fetchone()[0],
            "functions": conn.execute(
                "SELECT count(*) FILTER (WHERE ops.redact(x.m) IS DISTINCT FROM pg_temp.old_redact(x.m)), "
                "       count(*) FILTER (WHERE ops.error_fingerprint(x.s, x.p, 'X.Y', x.m, x.m) "
                "                              IS DISTINCT FROM pg_temp.old_error_fingerprint(x.s, x.p, 'X.Y', x.m, x.m)) "
                "FROM jsonb_to_recordset(%s::jsonb) AS x (s text, p text, m text)",
                (json.dumps([{"s": r["source"], "p": r["phase"], "m": r["message"]} for r in rows]),)).fetchone(),
        }
        conn.rollback()
    return result


def test_the_old_definitions_are_found():
    assert "pg_temp.old_redact(message text)" in old_definition("redact", "old_redact")
    fingerprint = old_definition("error_fingerprint", "old_error_fingerprint").rstrip()
    assert "ops.code_group_fingerprint(source, phase, code)" in fingerprint and fingerprint.endswith("'hex') END;")


def test_corpus_is_large_and_varied(compared):
    rows = compared["rows"]
    assert len(rows) > 1400
    assert len({r["source"] for r in rows}) >= 6


def test_redact_and_fingerprint_functions_agree_with_the_old_ones(compared):
    assert compared["functions"] == (0, 0)


def test_every_event_is_stored_as_the_old_pipeline_stored_it(compared):
    checks = ("message", "top_frame", "run_id", "context", "class", "fingerprint")
    wrong = {c: [r[-1][:80] for r in compared["miss"] if not r[1 + i]] for i, c in enumerate(checks)}
    assert len(compared["miss"]) == len(compared["rows"])
    assert {c: w for c, w in wrong.items() if w} == {}


def test_the_second_insert_reads_the_cache_and_stores_the_same(compared):
    """The second insert of every event (a cache hit) stores exactly what the first (a miss) stored."""
    before, after, again = compared["cache"]
    assert before == 0
    assert after > 0, "the first insert stored entries"
    assert again == after, "the second insert of the same events stored no new entry (every event was a hit)"
    assert compared["pairs"] == 0
