"""The regex prefilter may only skip a regex that cannot match: prove it on the taxonomy and corpus."""

from __future__ import annotations

import re

import psycopg
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
                message = ssot.canonical_text(str(entry["message"]))  # what ops.classify_error matches on
                if rx.search(message):
                    checked += 1
                    assert any(lit in message.lower() for lit in p["required_literals"]), (p, message)
    assert checked > 50
    assert tax  # loaded with line numbers too


def test_python_canonical_form_equals_sql(module_db_url):
    """The SSOT tooling and the database fold text the same way (corpus messages and the hard cases)."""
    samples = [str(e["message"]) for e in CORPUS] + [
        "UNAUTHORIZED_INVALID_JWT_FORMAT", "ＣＰＵ－Time\u00a0hard—limit", "Оvеrlоаdеd", "a\r\nb\rc", "x__-- \t y"]
    with psycopg.connect(module_db_url) as conn:
        got = [r[0] for r in conn.execute("SELECT ops.canonical_text(t) FROM unnest(%s::text[]) WITH ORDINALITY AS x (t, n) "
                                          "ORDER BY n", (samples,))]
    assert got == [ssot.canonical_text(t) for t in samples]
