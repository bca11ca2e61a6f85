"""Grouping on real input: pairs from public reports that are (or are not) one failure.

Each pair goes through the real pipeline (ops.record_error: redaction, classification, fingerprint);
"same" pairs must share a fingerprint, "different" pairs must not. The floor is asserted on the test
split; the figures per split and source are printed (pytest -s) and recorded in docs/grouping.md.
"""

from __future__ import annotations

import psycopg
import pytest

from tests import realworld_kit as kit


def _fingerprint(cur, source: str, phase: str | None, message: str) -> str:
    return cur.execute("SELECT fingerprint FROM ops.record_error(source => %s, phase => %s, message => %s)",
                       (source, phase, message)).fetchone()[0]


@pytest.fixture(scope="module")
def outcomes(module_db_url):
    rows = []
    with psycopg.connect(module_db_url) as conn, conn.cursor() as cur:
        for p in kit.pairs():
            fa = _fingerprint(cur, p.source, *p.a)
            fb = _fingerprint(cur, p.source, *p.b)
            rows.append((p, (fa == fb) == p.same))
        conn.rollback()
    return rows


def test_corpus_has_enough_pairs():
    pairs = kit.pairs()
    assert len(pairs) >= 60
    assert {p.same for p in pairs} == {True, False}


def test_grouping_pairs_test_split_floor(outcomes, capsys):
    table = kit.accuracy_table([(p.split, p.source, ok) for p, ok in outcomes])
    with capsys.disabled():
        print("\n" + kit.format_table("grouping pairs (same fingerprint iff same failure)", table))
        wrong = [p.id for p, ok in outcomes if not ok and p.split == "dev"]
        print("  dev pairs wrong (tune on these only):", ", ".join(wrong) or "none")
    ok, n = table["test"]["all"]
    assert ok / n >= 0.95, f"grouping on the test split is {ok}/{n}"
