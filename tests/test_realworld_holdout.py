"""The first real-world holdout (tests/fixtures/realworld/holdout/*.yaml, README there): its corpus rules.

The holdout was collected and labelled (committed) before the classifier saw it, from reports the tuned
corpus does not use, and measured blind once (docs/realworld.md, "Holdout (blind)", kept as history). It is
tuning data since: the loader reports its files' ``split: holdout`` as the split ``dev-holdout1``, and its
figures are asserted with dev's in tests/test_realworld.py and tests/test_realworld_grouping.py. This test
checks the rules that keep it honest (size, URLs unique and disjoint from the dev/test corpus, no message
text the corpus was tuned on, every label a taxonomy code, no secret left unredacted and nothing redacted
that holds none) and the loader's handling of the splits.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import yaml

from worker import ROOT, realworld, redaction

SOURCES = {"github_actions", "terraform", "vercel", "supabase_fn", "odoo", "dns", "agent_runner", "ops"}

MESSAGES = realworld.load(directory=realworld.HOLDOUT_DIR)
PAIRS = realworld.load_pairs(directory=realworld.HOLDOUT_DIR)


def _docs(directory: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((ROOT / directory).glob("*.yaml"))]


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def test_holdout_is_big_enough_and_covers_every_source():
    per_source = Counter(m.source for m in MESSAGES)
    assert len(MESSAGES) >= 150, f"{len(MESSAGES)} messages"
    assert set(per_source) == SOURCES
    assert min(per_source.values()) >= 15, per_source
    assert len(PAIRS) >= 30 and {p.same for p in PAIRS} == {True, False}
    assert {m.split for m in MESSAGES} == {p.split for p in PAIRS} == {realworld.HOLDOUT_SPLIT}


def test_report_urls_are_unique_and_disjoint_from_the_tuned_corpus():
    holdout = [r["url"] for d in _docs(realworld.HOLDOUT_DIR) for r in d["reports"]]
    corpus = {r["url"] for d in _docs(realworld.CORPUS_DIR) for r in d["reports"]}
    corpus |= {p["url"] for d in _docs(realworld.CORPUS_DIR) for p in d.get("pairs") or []}
    assert [u for u, n in Counter(holdout).items() if n > 1] == []
    assert sorted(set(holdout) & corpus) == []
    assert sorted({p["url"] for d in _docs(realworld.HOLDOUT_DIR) for p in d["pairs"]} & corpus) == []
    ids = [r["id"] for d in _docs(realworld.HOLDOUT_DIR) for r in d["reports"]]
    assert len(ids) == len(set(ids)) and {i for i in ids} & {m.report for m in realworld.load()} == set()


def test_no_holdout_text_repeats_a_text_the_corpus_was_tuned_on():
    tuned = {_fold(m.text) for m in realworld.load()}
    tuned |= {_fold(t) for p in realworld.load_pairs() for t in (p.a[1], p.b[1])}
    texts = [(m.report, m.text) for m in MESSAGES] + [(p.id, t) for p in PAIRS for t in (p.a[1], p.b[1])]
    assert [i for i, t in texts if _fold(t) in tuned] == []


def test_no_secret_is_left_unredacted_and_nothing_else_is_redacted():
    """Anonymized texts hold no secret, so redaction changes none of them. This includes a module path with a
    segment that starts with @ (sbfn-supabase-36144: .../node_modules/localhost/@supabase/realtime-js/...), which
    the host_credentials rule used to read as user info."""
    changed = {m.report for m in MESSAGES if redaction.redact(m.text) != m.text}
    changed |= {p.id for p in PAIRS for t in (p.a[1], p.b[1]) if redaction.redact(t) != t}
    assert changed == set(), "a holdout text holds something the redaction rules treat as a secret"
    path = "Cannot find module 'file:///var/tmp/node_modules/localhost/@supabase/realtime-js/dist/index.js'"
    assert redaction.redact(path) == path


def test_the_loader_keeps_holdout_and_tuned_splits_apart(tmp_path):
    for directory, split in ((realworld.HOLDOUT_DIR, "test"), (realworld.HOLDOUT_DIR, "dev-holdout1"),
                             (realworld.CORPUS_DIR, "holdout"), (realworld.BLIND2_DIR, "holdout")):
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
        (tmp_path / directory / "x.yaml").write_text(yaml.safe_dump(
            {"source": "dns", "reports": [{"id": "r", "url": "u", "split": split,
                                           "messages": [{"code": "UNKNOWN.DNS", "message": "m"}]}]}))
        with pytest.raises(ValueError, match=f"has split '{split}'"):
            realworld.load(tmp_path, directory)
        (tmp_path / directory / "x.yaml").unlink()
    (tmp_path / realworld.HOLDOUT_DIR / "x.yaml").write_text(yaml.safe_dump(
        {"source": "dns", "reports": [{"id": "r", "url": "u", "split": "holdout",
                                       "messages": [{"code": "UNKNOWN.DNS", "message": "m"}]}]}))
    assert [m.split for m in realworld.load_tuned(tmp_path)] == ["dev-holdout1"], "the holdout is tuning data now"


def test_writing_a_section_replaces_only_it_and_keeps_the_others():
    doc = "# Figures\n\ncorpus table\n"
    once = realworld.with_section(doc, realworld.HOLDOUT_HEADING + "\n\nold figures\n")
    both = realworld.with_section(once, "## Blind set 2\n\nblind figures\n", "## Blind set 2")
    again = realworld.with_section(both, realworld.HOLDOUT_HEADING + "\n\nnew figures\n")
    assert again == ("# Figures\n\ncorpus table\n\n" + realworld.HOLDOUT_HEADING + "\n\nnew figures\n\n"
                     "## Blind set 2\n\nblind figures\n")
    kept = realworld.sections(again, (realworld.HOLDOUT_HEADING, "## Blind set 2"))
    assert kept == realworld.HOLDOUT_HEADING + "\n\nnew figures\n\n## Blind set 2\n\nblind figures\n"


def test_labels_are_taxonomy_codes(module_db_url):
    with psycopg.connect(module_db_url) as conn:
        codes = {r[0] for r in conn.execute("SELECT code FROM ops.failure_modes")}
    assert sorted({m.expected for m in MESSAGES} - codes) == []
