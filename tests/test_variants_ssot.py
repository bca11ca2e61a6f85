"""ssot/agents/variants.yaml: checked like the taxonomy (shape, parents, one baseline), with file:line messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from worker import ROOT, ssot


@pytest.fixture
def tree(tmp_path) -> Path:
    shutil.copytree(ROOT / "ssot", tmp_path / "ssot")
    return tmp_path


def edit(tree: Path, old: str, new: str) -> None:
    path = tree / ssot.VARIANTS
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def line_text(tree: Path, problem) -> str:
    return (tree / problem.path).read_text().splitlines()[problem.line - 1]


def test_the_repository_variants_are_valid():
    assert ssot.check_variants() == []


def test_two_baselines_for_one_agent_type_are_refused(tree):
    edit(tree, "value: full_suite_before_pr\n    status: challenger", "value: full_suite_before_pr\n    status: baseline")
    (problem,) = ssot.check_variants(tree)
    assert "agent type 'fixbot' needs exactly one variant with status baseline, not 2 (baseline, verify-full-suite)" \
        in problem.message


def test_an_unknown_parent_is_named_at_its_line(tree):
    edit(tree, "parent: baseline\n    knob: retrieval_policy", "parent: basline\n    knob: retrieval_policy")
    (problem,) = ssot.check_variants(tree)
    assert "unknown parent 'basline'" in problem.message
    assert line_text(tree, problem).strip() == "parent: basline"


def test_a_variant_changing_two_knobs_must_declare_them(tree):
    edit(tree, "knob: retrieval_policy\n", "knob: retrieval_policy\n    multi_knob: [retrieval_policy, prompt_template]\n")
    problems = ssot.check_variants(tree)
    assert problems and all(p.path == ssot.VARIANTS for p in problems)
    # Declared without `knob`, it is accepted: the comparison then says the effect cannot be attributed.
    edit(tree, "knob: retrieval_policy\n    multi_knob", "multi_knob")
    edit(tree, "    value: runbook_plus_similar_resolutions\n", "")
    assert ssot.check_variants(tree) == []


def test_a_child_without_a_knob_is_refused(tree):
    edit(tree, "    knob: verification_strictness\n", "")
    problems = ssot.check_variants(tree)
    assert problems and "variants/2" in problems[0].message


def test_the_check_runs_as_part_of_ssot_check(tree):
    edit(tree, "exploration_share: 0.2", "exploration_share: 1.5")
    assert any("exploration_share" in p.message and p.path == ssot.VARIANTS for p in ssot.check(None, tree))


def test_the_document_carries_the_file_hash_and_order():
    doc = ssot.variants_document()
    assert [v["position"] for v in doc["variants"]] == list(range(1, len(doc["variants"]) + 1))
    assert len(doc["sha256"]) == 64 and doc["exploration_share"] == pytest.approx(0.2)
