"""The published JSON Schemas, and the fast validator (fastjsonschema) agreeing with jsonschema on them."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.units_kit import FIXTURES
from worker import ROOT
from worker.units import load, yaml12

SCHEMAS = {k: json.loads((ROOT / f"ssot/schemas/{k}.schema.json").read_text()) for k in ("unit", "council")}
DOCS = {p.stem: yaml12.load(p.read_bytes()).data for p in sorted((FIXTURES / "pathfinder").glob("*.yaml"))}


@pytest.mark.parametrize("kind", SCHEMAS)
def test_schemas_are_valid_2020_12(kind):
    jsonschema.Draft202012Validator.check_schema(SCHEMAS[kind])


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _mutate(doc, path, replacement):
    doc = copy.deepcopy(doc)
    if not path:
        return replacement
    target = doc
    for p in path[:-1]:
        target = target[p]
    if replacement == "<delete>":
        del target[path[-1]]
    else:
        target[path[-1]] = replacement
    return doc


REPLACEMENTS = ["<delete>", None, True, 1, 1.5, "", "x" * 600, "strat://dev/role/x@1.0.0", [], {}, ["a"], "step-1"]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(DOCS)), st.data(), st.sampled_from(REPLACEMENTS))
def test_fast_validator_agrees_with_jsonschema(name, data, replacement):
    doc = DOCS[name]
    kind = "council" if name == "council" else "unit"
    path = data.draw(st.sampled_from([p for p in _paths(doc) if p]))
    mutated = _mutate(doc, path, replacement)
    fast = load.compile_fast(SCHEMAS[kind])
    assert fast(mutated) == jsonschema.Draft202012Validator(SCHEMAS[kind]).is_valid(mutated), (path, replacement)


def test_fast_validator_refuses_keywords_it_does_not_implement():
    with pytest.raises(ValueError, match="#: fast_validator does not handle 'dependentRequired'"):
        load.compile_fast({"type": "object", "dependentRequired": {"a": ["b"]}})
    with pytest.raises(ValueError, match="#/properties/a: .* 'items'"):
        load.compile_fast({"properties": {"a": {"items": [{"type": "string"}]}}})
    with pytest.raises(ValueError, match="#/properties/a: .* 'format'"):
        load.compile_fast({"properties": {"a": {"format": "uri"}}})
