"""The regex prefilter may only skip a regex that cannot match: prove it on the taxonomy and corpus."""

from __future__ import annotations

import re

import pytest
import yaml

from worker import ROOT, ssot
from worker.ssot import required_literals

CORPUS = yaml.safe_load((ROOT / "tests/fixtures/classification_corpus.yaml").read_text())


@pytest.mark.parametrize("pattern, expected", [
    ("abc", ["abc"]),
    ("ab+c", None),                      # runs are cut by the repeat: "a", "b", "c" are all too short
    ("(foo|barbaz) failed", [" failed"]),  # the longest guaranteed run wins
    ("(foo|barbaz)", ["barbaz", "foo"]),
    ("(foo|x)", None),                    # one alternative has no literal of length >= 2
    ("x(yz)?abc", ["abc"]),               # optional groups give nothing
    ("(abc)+", ["abc"]),                  # at least once
    ("(abc)*def", ["def"]),
    ("(^|[^a-z])(401|403)", ["40"]),      # Python factors common prefixes of alternatives
    (r"\d+ errors?", [" error"]),
    ("ERROR", ["error"]),                 # case-insensitive: lower-cased
])
def test_required_literals(pattern, expected):
    assert required_literals(pattern) == expected


def test_prefilter_never_hides_a_match():
    """For every taxonomy regex and every corpus message: a match implies one of its literals occurs."""
    tax = ssot.load_yaml(ssot.TAXONOMY)
    doc = ssot.Ssot.load().document()
    checked = 0
    for fm in doc["failure_modes"]:
        for p in fm["patterns"]:
            if p["kind"] != "regex" or not p["required_literals"]:
                continue
            rx = re.compile(p["pattern"], re.IGNORECASE)
            for entry in CORPUS:
                message = str(entry["message"])
                if rx.search(message):
                    checked += 1
                    assert any(lit in message.lower() for lit in p["required_literals"]), (p, message)
    assert checked > 50
    assert tax  # loaded with line numbers too
