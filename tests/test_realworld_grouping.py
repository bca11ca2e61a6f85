"""Grouping on real input: pairs from public reports that are (or are not) one failure.

Each pair goes through the real pipeline (ops.record_error: redaction, classification, fingerprint);
"same" pairs must share a fingerprint, "different" pairs must not. The figures per split and source are
printed (pytest -s) and recorded in docs/grouping.md and docs/realworld.md.

The pairs of the first holdout (split dev-holdout1), of blind2 (dev-blind2), blind3 (dev-blind3) and blind4
(dev-blind4) were each measured blind once and are tuning data since, with dev. The issue's target is 0.95 for the
test split and 0.90 for the tuning data; with fingerprint version 5 and blind4's classification fixes the five tuning
splits reach 205/267 (0.768), and 205/249 (0.823) without the "same" labels that issue 9's definition disputes
(realworld.DISPUTED_PAIRS: two resources that each need their own fix; blind4 adds none); the four splits tuned
before blind4 keep 162/206 (0.786) and 162/188 (0.862), the three before blind3 120/148 (0.811) and 120/130 (0.923).
The floors guard what is reached, so a change that loses grouping fails here; raise them as grouping improves.
"""

from __future__ import annotations

from collections import defaultdict

import psycopg
import pytest

from worker import realworld

TARGET = 0.95
FLOOR = 0.82        # test split (36/46 with version 3, 37/46 with version 4, 38/46 with AGENT.CONTEXT_LIMIT by code)
TUNED_TARGET = 0.90
TUNED_FLOOR = 0.76  # all five tuning splits (205/267 once blind4 joined them; the four before keep BEFORE_BLIND4_FLOOR)
UNDISPUTED_FLOOR = 0.82  # all five without the disputed labels (205/249)
BEFORE_BLIND4 = ("dev", "dev-holdout1", "dev-blind2", "dev-blind3")
BEFORE_BLIND4_FLOOR = 0.78  # the four splits tuned before blind4 (162/206; TUNED_FLOOR until blind4 joined)
BEFORE_BLIND4_UNDISPUTED_FLOOR = 0.86  # the same without the disputed labels (162/188)
BEFORE_BLIND3 = ("dev", "dev-holdout1", "dev-blind2")
BEFORE_BLIND3_FLOOR = 0.81  # dev, dev-holdout1 and dev-blind2 together (120/148 with versions 4 and 5)
BEFORE_BLIND3_UNDISPUTED_FLOOR = 0.92  # the same without the disputed labels (120/130 with versions 4 and 5)
PAIR_FLOOR = 0.89  # dev and dev-holdout1 alone (was 0.87 with version 3: 80/91; 81/91 with version 4)


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
    assert {p.split for p in pairs} == {"dev", "dev-holdout1", "dev-blind2", "dev-blind3", "dev-blind4", "test"}


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
        print("  tuning pairs wrong (tune on these only):",
              ", ".join(p.id for p, ok in outcomes if not ok and p.split in realworld.TUNED_SPLITS))
    ok, n = table[("test", "all")]
    assert ok / n >= FLOOR, f"grouping on the test split fell to {ok}/{n} (floor {FLOOR}, target {TARGET})"


def test_grouping_pairs_tuning_data_floor(outcomes):
    tuned = [(p, ok) for p, ok in outcomes if p.split in realworld.TUNED_SPLITS]
    assert len(tuned) >= 267
    right = sum(ok for _, ok in tuned)
    assert right / len(tuned) >= TUNED_FLOOR, (f"grouping on the tuning data fell to {right}/{len(tuned)} "
                                               f"(floor {TUNED_FLOOR}, target {TUNED_TARGET})")
    first = [ok for p, ok in tuned if p.split in ("dev", "dev-holdout1")]
    assert sum(first) / len(first) >= PAIR_FLOOR, f"dev+dev-holdout1 fell to {sum(first)}/{len(first)}"
    undisputed = [ok for p, ok in tuned if p.id not in realworld.DISPUTED_PAIRS]
    assert sum(undisputed) / len(undisputed) >= UNDISPUTED_FLOOR, \
        f"grouping without the disputed labels fell to {sum(undisputed)}/{len(undisputed)}"
    four = [(p, ok) for p, ok in tuned if p.split in BEFORE_BLIND4]
    assert sum(ok for _, ok in four) / len(four) >= BEFORE_BLIND4_FLOOR, "the four splits tuned before blind4 lost pairs"
    four_undisputed = [ok for p, ok in four if p.id not in realworld.DISPUTED_PAIRS]
    assert sum(four_undisputed) / len(four_undisputed) >= BEFORE_BLIND4_UNDISPUTED_FLOOR
    earlier = [(p, ok) for p, ok in tuned if p.split in BEFORE_BLIND3]
    assert sum(ok for _, ok in earlier) / len(earlier) >= BEFORE_BLIND3_FLOOR, "the three splits tuned before blind3 lost pairs"
    earlier_undisputed = [ok for p, ok in earlier if p.id not in realworld.DISPUTED_PAIRS]
    assert sum(earlier_undisputed) / len(earlier_undisputed) >= BEFORE_BLIND3_UNDISPUTED_FLOOR


def test_disputed_labels_are_same_pairs_of_the_tuning_data():
    pairs = {p.id: p for p in realworld.load_tuned_pairs()}
    assert all(pairs[i].same and pairs[i].split in realworld.TUNED_SPLITS for i in realworld.DISPUTED_PAIRS)


def test_different_failures_stay_apart_on_the_tuning_data(outcomes):
    """Versions 4 and 5 group more; they must not merge what the tuning data says is two failures. Two pairs were
    merged before version 4 too: odoo-hpair-04 (two access errors whose cause lines are identical; the model is on
    another line) and ga-b2pair-05 (bash's `<cmd>: command not found` for two commands: the grouping text starts after
    the last ": ", which drops the command name). blind3 brought two more, merged at its blind measure and still merged:
    ops-b3-pair-06 (two deadlocks whose only line is "deadlock detected") and tf-b3-pair-06 (two undeclared resources
    whose cause line is the bare "Reference to undeclared resource"; the name is on another line). blind4 brought five
    merged at its blind measure: dns-b4pair-03 (one line, "No SPF record exists for this domain", for two causes),
    dns-b4pair-05 (the bare "no such host" for two causes), terraform-b4pair-06 ("Failed to install provider", the
    provider on another line), vercel-b4pair-07 ("npm ERR! code ERESOLVE", the package further down) and
    vercel-b4pair-05 (two Edge Functions over the size limit: the first holdout labels two function names one failure,
    vercel-hpair-06, and that older reading is kept). One is merged since blind4's classification fix:
    vercel-b4pair-06, whose two sides print the same cause line ("Could not identify Next.js version", a Nuxt preset vs
    a wrong Root Directory; before the fix both were UNKNOWN and grouped by their whole, different, logs)."""
    merged = sorted(p.id for p, ok in outcomes if not ok and not p.same and p.split in realworld.TUNED_SPLITS)
    assert merged == ["dns-b4pair-03", "dns-b4pair-05", "ga-b2pair-05", "odoo-hpair-04", "ops-b3-pair-06", "terraform-b4pair-06",
                      "tf-b3-pair-06", "vercel-b4pair-05", "vercel-b4pair-06", "vercel-b4pair-07"]
