"""The first real-world holdout (tests/fixtures/realworld/holdout/*.yaml, README there): its corpus rules.

The holdout was collected and labelled (committed) before the classifier saw it, from reports the tuned
corpus does not use, and measured blind once (docs/realworld.md, "Holdout (blind)", kept as history). It is
tuning data since: the loader reports its files' ``split: holdout`` as the split ``dev-holdout1``, and its
figures are asserted with dev's in tests/test_realworld.py and tests/test_realworld_grouping.py. The rules every
collected set keeps are in tests/test_realworld_sets.py; this test checks the holdout's own: every source
covered, the loader's handling of its splits, and writing its section of docs/realworld.md.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from worker import realworld, redaction

SOURCES = {"github_actions", "terraform", "vercel", "supabase_fn", "odoo", "dns", "agent_runner", "ops"}

MESSAGES = realworld.load(directory=realworld.HOLDOUT_DIR)
PAIRS = realworld.load_pairs(directory=realworld.HOLDOUT_DIR)


def test_holdout_is_big_enough_and_covers_every_source():
    per_source = Counter(m.source for m in MESSAGES)
    assert len(MESSAGES) >= 150, f"{len(MESSAGES)} messages"
    assert set(per_source) == SOURCES
    assert min(per_source.values()) >= 15, per_source
    assert len(PAIRS) >= 30 and {p.same for p in PAIRS} == {True, False}
    assert {m.split for m in MESSAGES} == {p.split for p in PAIRS} == {realworld.HOLDOUT_SPLIT}


def test_a_path_segment_starting_with_at_is_not_user_info():
    """sbfn-supabase-36144's module path (.../node_modules/localhost/@supabase/realtime-js/...), which the
    host_credentials rule used to read as user info; tests/test_realworld_sets.py checks that redaction changes no
    holdout text."""
    path = "Cannot find module 'file:///var/tmp/node_modules/localhost/@supabase/realtime-js/dist/index.js'"
    assert redaction.redact(path) == path


def test_the_loader_keeps_holdout_and_tuned_splits_apart(tmp_path):
    for directory, split in ((realworld.HOLDOUT_DIR, "test"), (realworld.HOLDOUT_DIR, "dev-holdout1"),
                             (realworld.CORPUS_DIR, "holdout"), (realworld.CORPUS_DIR / "blind2", "holdout")):
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
