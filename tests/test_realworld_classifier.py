"""The v2 classifier's blind-set evaluation (worker/learn/realworld_eval.py, `scripts/realworld-report --classifier`):
trained on a small slice of the synthetic corpus and evaluated on a few tuned real-world messages plus messages no
rule knows, so the counts are checked against their definitions (the fallback counts only the messages the rules
left UNKNOWN; "rules, then classifier" equals the rules' right named codes plus the fallback's right codes). The
measured blind value is never asserted (docs/realworld.md records it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import psycopg
import pytest

from worker import ROOT, realworld
from worker.learn import classifier as C
from worker.learn import realworld_eval as E

CODES = 8


def _train():
    samples = [s for s in C.corpus_samples() if not s.code.startswith("UNKNOWN.")]
    codes = {c for c, _ in Counter(s.code for s in samples).most_common(CODES)}
    return [s for s in samples if s.code in codes], codes


TRAIN, TRAIN_CODES = _train()
# A few tuned messages (dev-blind2, never a blind set) and messages no rule knows, labelled with a trained code
# and with the abstention code, so the rules leave some UNKNOWN whatever the patterns become.
TUNED = [m for m in realworld.load_tuned() if m.split == "dev-blind2"][::12]
NO_RULE = [realworld.Message("made-up", "vercel", "made-up", None, sorted(TRAIN_CODES)[0], "qqzx vvwk ploof zzyzx"),
           realworld.Message("made-up", "ops", "made-up", None, "UNKNOWN.OPS", "flumph wibble 8 quux"),
           realworld.Message("made-up", "odoo", "made-up", None, sorted(TRAIN_CODES)[1], "lorem ipsum dolor sit")]
MESSAGES = TUNED + NO_RULE


@pytest.fixture(scope="module")
def evaluated(module_db_url):
    with psycopg.connect(module_db_url) as conn:
        return E.evaluate(conn, "blind3", MESSAGES, TRAIN, seed=1), realworld.classify(conn, MESSAGES), \
            realworld.measure(conn, MESSAGES)


def test_counts_follow_their_definitions(evaluated):
    e, rules, measured = evaluated
    t = e.total
    assert [r.rules for r in e.rows] == rules and t.n == len(MESSAGES)
    unknown = [r for r in e.rows if r.rules.startswith("UNKNOWN.")]
    assert t.rules_unknown == len(unknown) >= len(NO_RULE)  # the fallback set is exactly the rules' UNKNOWNs
    # rules alone agrees with the report script's measure of the same messages
    assert t.rules_correct == sum(f.correct for f in measured.values())
    assert t.rules_named_correct == sum(r.rules == r.expected for r in e.rows if r not in unknown)
    # the fallback counts only rules-UNKNOWN messages
    assert t.fb_top_correct == sum(r.top[0][0] == r.expected for r in unknown)
    assert t.fb_thr_correct == sum(r.thresholded == r.expected for r in unknown)
    assert t.fb_top3_correct == sum(any(c == r.expected for c, _ in r.top) for r in unknown)
    assert t.fb_abstained == sum(r.thresholded == C.unknown_code(r.source) for r in unknown)
    assert t.rules_unknown_correct == sum(r.rules == r.expected for r in unknown) >= 1  # the UNKNOWN.OPS message
    assert t.fb_thr_named_correct == sum(r.thresholded == r.expected != C.unknown_code(r.source) for r in unknown)
    assert t.rules_correct == t.rules_named_correct + t.rules_unknown_correct
    # combined = rules' right named codes + the fallback's right codes = the combined answer's right count
    combined_top = [r.rules if not r.rules.startswith("UNKNOWN.") else r.top[0][0] for r in e.rows]
    combined_thr = [r.rules if not r.rules.startswith("UNKNOWN.") else r.thresholded for r in e.rows]
    assert t.combined_top == t.rules_named_correct + t.fb_top_correct == \
        sum(a == r.expected for a, r in zip(combined_top, e.rows))
    assert t.combined_thr == t.rules_named_correct + t.fb_thr_correct == \
        sum(a == r.expected for a, r in zip(combined_thr, e.rows))
    # the override: the thresholded code when it names one, else the rules'; disagreements are both named and unequal
    override = [r.rules if r.thresholded == C.unknown_code(r.source) else r.thresholded for r in e.rows]
    assert t.override_correct == sum(a == r.expected for a, r in zip(override, e.rows))
    named = [(a, r) for a, r in zip(override, e.rows) if not a.startswith("UNKNOWN.")]
    assert (t.override_named, t.override_named_correct) == (len(named), sum(a == r.expected for a, r in named))
    disagree = [r for r in e.rows if r not in unknown and r.thresholded not in (C.unknown_code(r.source), r.rules)]
    assert (t.disagree, t.disagree_rules_right, t.disagree_thr_right) == \
        (len(disagree), sum(r.rules == r.expected for r in disagree), sum(r.thresholded == r.expected for r in disagree))
    # the classifier alone: thresholded is the top code or the abstention code, below the threshold
    assert t.top_correct == sum(r.top[0][0] == r.expected for r in e.rows)
    for r in e.rows:
        assert r.thresholded == (r.top[0][0] if r.top[0][1] >= e.threshold else C.unknown_code(r.source))
        assert len(r.top) == E.TOP_K and r.top[0][0] in TRAIN_CODES
    # per source adds up to the totals
    for name in ("n", "rules_correct", "rules_unknown", "top_correct", "thr_correct", "fb_top_correct",
                 "fb_thr_correct", "fb_abstained", "rules_unknown_correct", "fb_thr_named_correct", "combined_top", "combined_thr",
                 "override_correct", "override_named", "override_named_correct", "disagree", "disagree_rules_right", "disagree_thr_right"):
        assert sum(getattr(c, name) for c in e.per_source.values()) == getattr(t, name), name
    assert e.training == {"synthetic": len(TRAIN)} and e.training_rows <= len(TRAIN)
    assert "rules then classifier, top:" in E.text(e) and "classifier (thr) then rules:" in E.text(e)


def test_classifier_answers_on_named_messages_do_not_move_the_fallback():
    """Pure counting on hand-made rows: the classifier being right or wrong where the rules named a code changes
    'alone' but never the fallback or the combined figure."""
    def row(expected, rules, top):
        return E.Row("dns", expected, rules, [(top, 0.9), ("X", 0.05), ("Y", 0.05)], top)
    base = [row("A", "A", "B"), row("B", "C", "B"), row("A", "UNKNOWN.DNS", "A"), row("B", "UNKNOWN.DNS", "C")]
    flipped = [row("A", "A", "A"), row("B", "C", "B")] + base[2:]
    a, b = (E.count("blind9", rows, threshold=0.5, target_precision=0.9, training_rows=1, training={}).total
            for rows in (base, flipped))
    assert (a.rules_correct, a.rules_unknown, a.rules_named_correct) == (1, 2, 1)
    assert (a.fb_top_correct, a.fb_thr_correct, a.combined_top, a.combined_thr) == (1, 1, 2, 2)
    assert (a.top_correct, b.top_correct) == (2, 3)
    # the override follows the classifier wherever it names a code: one of the two disagreements is the classifier's
    assert (a.override_correct, a.disagree, a.disagree_rules_right, a.disagree_thr_right) == (2, 2, 1, 1)
    assert (b.override_correct, b.disagree) == (3, 1)
    assert (a.override_named, a.override_named_correct, b.override_named_correct) == (4, 2, 3)
    for name in ("rules_unknown", "fb_top_correct", "fb_thr_correct", "combined_top", "combined_thr"):
        assert getattr(a, name) == getattr(b, name), name


def test_the_doc_subsection_is_replaced_and_hand_text_kept():
    doc = "# T\n\n## Blind set 3\n\nrules\n"
    one = E.with_subsection(doc, "### Blind set 3\n\nfigures-one\n", "blind3")
    assert one.startswith(doc) and E.HEADING in one and "figures-one" in one
    edited = one.replace(E.INTRO, E.INTRO + "\n\nA hand-written reading.")
    two = E.with_subsection(edited, "### Blind set 3\n\nsecond\n", "blind3")
    assert "second" in two and "figures-one" not in two and "A hand-written reading." in two
    three = E.with_subsection(two, "### Blind set 4\n\nfourth\n", "blind4")
    assert three.index("### Blind set 3") < three.index("### Blind set 4") and "second" in three


def test_the_script_wants_a_blind_set_for_the_classifier(module_db_url):
    run = subprocess.run([sys.executable, str(ROOT / "scripts/realworld-report"), "--classifier"],
                         env={**os.environ, "DATABASE_URL": module_db_url}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--classifier needs --split blind<N>" in run.stderr, (run.returncode, run.stderr)
