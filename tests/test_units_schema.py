"""The published JSON Schemas, and the fast validator (jsonschema-rs) agreeing with jsonschema on them."""

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


@pytest.mark.parametrize("schema,valid,invalid", [
    ({"type": "object", "dependentRequired": {"a": ["b"]}}, {"a": 1, "b": 2}, {"a": 1}),
    ({"prefixItems": [{"type": "string"}], "items": False}, ["x"], ["x", 1]),
    ({"properties": {"a": {"unevaluatedProperties": False, "properties": {"b": {}}}}}, {"a": {"b": 1}}, {"a": {"c": 1}}),
    ({"properties": {"a": {"format": "uri"}}}, {"a": "not a uri"}, None),
])
def test_fast_validator_reads_2020_12_keywords_as_jsonschema_does(schema, valid, invalid):
    """jsonschema-rs implements 2020-12 itself (fastjsonschema, draft-07, had to refuse these keywords); formats are
    annotations, not checked, in both."""
    fast, reference = load.compile_fast(schema), jsonschema.Draft202012Validator(schema)
    assert fast(valid) and reference.is_valid(valid)
    if invalid is not None:
        assert not fast(invalid) and not reference.is_valid(invalid)


def test_the_reference_decides_what_the_fast_check_cannot_judge_or_reads_stricter(tmp_path):
    """A key that is not a string cannot reach jsonschema-rs, and its `$` does not match before a final newline as
    Python's does: both come back False from the fast check, and the reference's answer stands."""
    fast = load.compile_fast({"type": "object"})
    assert fast({"a": 1}) and not fast({1: "a"})
    assert jsonschema.Draft202012Validator({"type": "object"}).is_valid({1: "a"})
    doc = yaml12.load((FIXTURES / "pathfinder" / "council.yaml").read_bytes())
    doc.data["id"] += "\n"  # the pattern ^council/[a-z0-9-]{1,64}$: Python's `$` matches before the newline
    assert jsonschema.Draft202012Validator(SCHEMAS["council"]).is_valid(doc.data)
    assert not load.fast_validator("council")(doc.data)
    assert load._schema_problems("council", doc, "c.yaml") == []
    with pytest.raises(ValueError, match="not valid"):
        load.compile_fast({"type": 5})
