"""The third blind set (tests/fixtures/realworld/blind3/*.yaml), measured blind once and tuning data since.

Its files say ``split: blind3``; the loader reports them as the split ``dev-blind3`` and ``load_tuned`` includes
them, so tests/test_realworld.py and tests/test_realworld_grouping.py measure and guard them with dev,
dev-holdout1 and dev-blind2. The one blind figure stays in docs/realworld.md ("Blind set 3") as history. This
test keeps the set's own rules true (report URLs unique and disjoint from the corpus, the first holdout and
blind2, no text repeating one of theirs, every label a taxonomy code, nothing redaction would change but the
texts named below) and checks that the split cannot be measured as blind again.
"""

from __future__ import annotations

import re
from collections import Counter

import psycopg
import pytest
import yaml

from worker import ROOT, realworld, redaction

DIRECTORY = realworld.BLIND3_DIR
MESSAGES = realworld.load(directory=DIRECTORY)
PAIRS = realworld.load_pairs(directory=DIRECTORY)
EARLIER = (realworld.CORPUS_DIR, realworld.HOLDOUT_DIR, realworld.BLIND2_DIR)  # what blind3 was collected apart from


def _docs(directory) -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in sorted((ROOT / directory).glob("*.yaml"))]


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def test_blind3_is_reported_as_the_tuning_split_dev_blind3():
    assert len(MESSAGES) >= 190 and len(PAIRS) >= 58
    assert {m.split for m in MESSAGES} == {p.split for p in PAIRS} == {"dev-blind3"}
    assert "dev-blind3" in realworld.TUNED_SPLITS
    assert sum(m.split == "dev-blind3" for m in realworld.load_tuned()) == len(MESSAGES)
    assert sum(p.split == "dev-blind3" for p in realworld.load_tuned_pairs()) == len(PAIRS)
    assert not realworld.is_blind("blind3")
    with pytest.raises(ValueError, match="is not a blind set"):
        realworld.blind_dir("blind3")


def test_blind3_reports_stay_disjoint_from_the_earlier_sets():
    urls = [r["url"] for d in _docs(DIRECTORY) for r in d["reports"]]
    assert [u for u, n in Counter(urls).items() if n > 1] == []
    others = {r["url"] for directory in EARLIER for d in _docs(directory) for r in d["reports"]}
    others |= {p["url"] for directory in EARLIER for d in _docs(directory) for p in d.get("pairs") or []}
    assert sorted(set(urls) & others) == []
    earlier = [m for directory in EARLIER for m in realworld.load(directory=directory)]
    texts = {_fold(m.text) for m in earlier}
    texts |= {_fold(t) for directory in EARLIER for p in realworld.load_pairs(directory=directory) for t in (p.a[1], p.b[1])}
    assert [m.report for m in MESSAGES if _fold(m.text) in texts] == []


# Texts the rules change although they hold no real secret, each for a reason the rules mean: a same-shape fake value
# in a token field (`u'token': u'EXAMPLEfake…'`; before the u-prefix fix the rule redacted the `u` and kept the value),
# and GitHub's own mask (`token: ***`) replaced by ours.
REDACTED_ON_PURPOSE = {"dns-boulder-1411", "gha-setup-python-856", "gha-pr-lint-action-774"}


def test_no_secret_is_left_unredacted():
    changed = {m.report for m in MESSAGES if redaction.redact(m.text) != m.text}
    changed |= {p.id for p in PAIRS for t in (p.a[1], p.b[1]) if redaction.redact(t) != t}
    assert changed == REDACTED_ON_PURPOSE, "a blind3 text holds something the redaction rules treat as a secret"
    boulder = next(m.text for m in MESSAGES if m.report == "dns-boulder-1411")
    assert "u'token': u'[REDACTED]'" in redaction.redact(boulder)


def test_the_loader_refuses_another_split_in_blind3(tmp_path):
    (tmp_path / DIRECTORY).mkdir(parents=True)
    (tmp_path / DIRECTORY / "x.yaml").write_text(yaml.safe_dump(
        {"source": "dns", "reports": [{"id": "r", "url": "u", "split": "dev-blind3",
                                       "messages": [{"code": "UNKNOWN.DNS", "message": "m"}]}]}))
    with pytest.raises(ValueError, match="has split 'dev-blind3', not blind3"):
        realworld.load(tmp_path, DIRECTORY)


def test_labels_are_taxonomy_codes(module_db_url):
    with psycopg.connect(module_db_url) as conn:
        codes = {r[0] for r in conn.execute("SELECT code FROM ops.failure_modes")}
    assert sorted({m.expected for m in MESSAGES} - codes) == []
