"""Grouping on real input: pairs from public reports that are (or are not) one failure.

Each pair goes through the real pipeline (ops.record_error: redaction, classification, fingerprint);
"same" pairs must share a fingerprint, "different" pairs must not. The figures per split and source are
printed (pytest -s) and recorded in docs/grouping.md; normalization is tuned on dev only.

The issue's target for the test split is 0.95; it is not met yet (0.739 when this was written: the
"same" pairs left differ in their cause line itself, see docs/grouping.md). FLOOR guards what is
reached, so a change that loses grouping fails here; raise it as grouping improves.
"""

from __future__ import annotations

from collections import defaultdict

import psycopg
import pytest

from worker import realworld

TARGET = 0.95
FLOOR = 0.73


def _fingerprint(cur, source: str, phase: str | None, message: str) -> str:
    return cur.execute("SELECT fingerprint FROM ops.record_error(source => %s, phase => %s, message => %s)",
                       (source, phase, message)).fetchone()[0]


@pytest.fixture(scope="module")
def outcomes(module_db_url):
    rows = []
    with psycopg.connect(module_db_url) as conn, conn.cursor() as cur:
        for p in realworld.load_pairs():
            rows.append((p, (_fingerprint(cur, p.source, *p.a) == _fingerprint(cur, p.source, *p.b)) == p.same))
        conn.rollback()
    return rows


def test_corpus_has_enough_pairs_of_both_kinds():
    pairs = realworld.load_pairs()
    assert len(pairs) >= 60
    assert {p.same for p in pairs} == {True, False}
    assert {p.split for p in pairs} == {"dev", "test"}


def test_grouping_pairs_test_split_floor(outcomes, capsys):
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for p, ok in outcomes:
        for key in ((p.split, p.source), (p.split, "all")):
            table[key][0] += ok
            table[key][1] += 1
    with capsys.disabled():
        print("\ngrouping pairs (same fingerprint iff same failure)")
        for (split, source), (ok, n) in sorted(table.items(), key=lambda kv: (kv[0][0], kv[0][1] == "all", kv[0][1])):
            print(f"  {split:<4} {source:<15} {ok:>3}/{n:<3} {ok / n:6.1%}")
        print("  dev pairs wrong (tune on these only):", ", ".join(p.id for p, ok in outcomes if not ok and p.split == "dev"))
    ok, n = table[("test", "all")]
    assert ok / n >= FLOOR, f"grouping on the test split fell to {ok}/{n} (floor {FLOOR}, target {TARGET})"
