"""Grouping on real input: pairs from public reports that are (or are not) one failure.

Each pair goes through the real pipeline (ops.record_error: redaction, classification, fingerprint);
"same" pairs must share a fingerprint, "different" pairs must not. The figures per split and source are
printed (pytest -s) and recorded in docs/grouping.md; normalization is tuned on dev only.

The pairs of the first holdout (tests/fixtures/realworld/holdout/) are the split dev-holdout1: measured
blind once, tuning data since. The issue's target for the test split is 0.95 and 0.90 for dev with
dev-holdout1; neither is met yet (0.783 and 0.879 with fingerprint version 3: the "same" pairs left differ
in their cause line itself, see docs/grouping.md). FLOOR and TUNED_FLOOR guard what is reached, so a
change that loses grouping fails here; raise them as grouping improves.
"""

from __future__ import annotations

from collections import defaultdict

import psycopg
import pytest

from worker import realworld

TARGET = 0.95
FLOOR = 0.78        # test split (36/46 with version 3)
TUNED_TARGET = 0.90
TUNED_FLOOR = 0.87  # dev and dev-holdout1 together (80/91 with version 3)


def _fingerprint(cur, source: str, phase: str | None, message: str) -> str:
    return cur.execute("SELECT fingerprint FROM ops.record_error(source => %s, phase => %s, message => %s)",
                       (source, phase, message)).fetchone()[0]


@pytest.fixture(scope="module")
def outcomes(module_db_url):
    rows = []
    with psycopg.connect(module_db_url) as conn, conn.cursor() as cur:
        for p in realworld.load_tuned_pairs():
            rows.append((p, (_fingerprint(cur, p.source, *p.a) == _fingerprint(cur, p.source, *p.b)) == p.same))
        conn.rollback()
    return rows


def test_corpus_has_enough_pairs_of_both_kinds():
    pairs = realworld.load_tuned_pairs()
    assert len(pairs) >= 90
    assert {p.same for p in pairs} == {True, False}
    assert {p.split for p in pairs} == {"dev", "dev-holdout1", "test"}


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
        print("  dev pairs wrong (tune on these only):",
              ", ".join(p.id for p, ok in outcomes if not ok and p.split in ("dev", "dev-holdout1")))
    ok, n = table[("test", "all")]
    assert ok / n >= FLOOR, f"grouping on the test split fell to {ok}/{n} (floor {FLOOR}, target {TARGET})"


def test_grouping_pairs_tuning_data_floor(outcomes):
    tuned = [ok for p, ok in outcomes if p.split in ("dev", "dev-holdout1")]
    assert len(tuned) >= 90
    assert sum(tuned) / len(tuned) >= TUNED_FLOOR, (f"grouping on dev+dev-holdout1 fell to {sum(tuned)}/{len(tuned)} "
                                                    f"(floor {TUNED_FLOOR}, target {TUNED_TARGET})")


def test_different_failures_stay_apart_on_the_tuning_data(outcomes):
    """Version 3 groups more; it must not merge what the tuning data says is two failures (one pair,
    odoo-hpair-04, two access errors whose cause lines are identical, was merged before version 3)."""
    merged = sorted(p.id for p, ok in outcomes if not ok and not p.same and p.split in ("dev", "dev-holdout1"))
    assert merged == ["odoo-hpair-04"]
