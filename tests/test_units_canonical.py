"""stratt-canonical-v1: our own vectors for every rule, plus properties."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import unicodedata
from pathlib import Path

import blake3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.units import canonical, edit, yaml12
from worker.units.canonical import canonical_json, fingerprint_bytes, js_number


def cj(text: str | bytes) -> str:
    return canonical_json(yaml12.load(text).data)


# -- YAML 1.2 core schema -----------------------------------------------------------------------------

@pytest.mark.parametrize("scalar", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On"])
def test_yaml11_booleans_stay_strings(scalar):
    assert cj(f"k: {scalar}\n") == json.dumps({"k": scalar}, separators=(",", ":"))


@pytest.mark.parametrize("literal,value", [("true", "true"), ("True", "true"), ("FALSE", "false")])
def test_only_true_and_false_are_booleans(literal, value):
    assert cj(f"k: {literal}\n") == '{"k":' + value + "}"


@pytest.mark.parametrize("scalar", ["2024-01-31", "2001-12-14t21:59:43.10-05:00", "12:30:00", "1_000", "0b101", "+.5e"])
def test_dates_sexagesimals_and_11_numbers_stay_strings(scalar):
    assert json.loads(cj(f"k: {scalar}\n"))["k"] == scalar


@pytest.mark.parametrize("literal,text", [("010", "10"), ("0o17", "15"), ("0x1F", "31"), ("1.0", "1"), ("1e3", "1000"),
                                          ("-0.0", "0"), ("1e21", "1e+21"), ("0.000001", "0.000001"), ("1e-7", "1e-7"),
                                          ("12345678901234567890", "12345678901234567000")])
def test_core_schema_numbers_print_as_javascript_does(literal, text):
    assert cj(f"k: {literal}\n") == '{"k":' + text + "}"


def test_duplicate_keys_are_errors_with_lines():
    with pytest.raises(yaml12.YamlError, match="duplicate key 'a'") as e:
        yaml12.load("a: 1\nb:\n  c: 1\na: 2\n")
    assert e.value.line == 4


def test_nested_duplicate_keys_and_nfc_equal_keys_are_errors():
    with pytest.raises(yaml12.YamlError):
        yaml12.load("a:\n  b: 1\n  b: 2\n")
    with pytest.raises(yaml12.YamlError, match="duplicate"):
        yaml12.load(f"\"{unicodedata.normalize('NFC', 'é')}\": 1\n\"{unicodedata.normalize('NFD', 'é')}\": 2\n")


def test_merge_keys_are_errors():
    with pytest.raises(yaml12.YamlError, match="merge keys") as e:
        yaml12.load("base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n")
    assert e.value.line == 3
    assert cj('"<<": 1\n') == '{"<<":1}'  # a quoted "<<" is just a key


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", "", "---\n"])
def test_a_root_that_is_not_a_mapping_is_an_error(text):
    with pytest.raises(yaml12.YamlError, match="root must be a mapping"):
        yaml12.load(text)


def test_unsupported_tags_are_errors():
    for text in ("k: !!binary aGk=\n", "k: !!timestamp 2020-01-01\n", "k: !!python/name:os.system ''\n", "k: .nan\n"):
        with pytest.raises(yaml12.YamlError):
            yaml12.load(text)


# -- canonical rules ----------------------------------------------------------------------------------

def test_bom_is_stripped():
    assert fingerprint_bytes(b"\xef\xbb\xbfa: 1\n") == fingerprint_bytes(b"a: 1\n")


def test_crlf_and_lf_give_the_same_fingerprint():
    lf = "a: 1\nb: |\n  two\n  lines\n"
    assert fingerprint_bytes(lf.replace("\n", "\r\n").encode()) == fingerprint_bytes(lf.encode())
    assert json.loads(cj(lf.replace("\n", "\r\n")))["b"] == "two\nlines\n"


def test_only_the_top_level_fingerprint_is_dropped():
    assert cj("fingerprint: blake3:00\nmeta:\n  fingerprint: kept\n") == '{"meta":{"fingerprint":"kept"}}'


def test_nulls_are_removed_recursively_but_empty_lists_and_maps_kept():
    assert cj("a: ~\nb: null\nc:\nd: []\ne: {}\nf:\n  g: null\n  h: [1, null]\n") == '{"d":[],"e":{},"f":{"h":[1,null]}}'


def test_nfc_and_nfd_give_the_same_fingerprint():
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    assert fingerprint_bytes(f"{nfd}: {nfd}\n".encode()) == fingerprint_bytes(f"{nfc}: {nfc}\n".encode())
    assert cj(f"k: {nfd}\n") == '{"k":"café"}'


def test_keys_sort_by_utf16_code_units_not_code_points():
    # U+1F600 is D83D DE00 in UTF-16 (before U+FF61); by code point it would come after.
    text = '"\\uFF61": 1\n"\\U0001F600": 2\n"a": 3\n"Z": 4\n'
    assert cj(text) == '{"Z":4,"a":3,"😀":2,"｡":1}'
    assert sorted(["\uff61", "\U0001F600"]) == ["\uff61", "\U0001F600"]  # Python's order differs


def test_compact_json_with_literal_unicode_and_js_escapes():
    assert cj('k: "tab\\there \\"q\\" \\\\ \\u0001 é ✓ \\u2028"\n') == '{"k":"tab\\there \\"q\\" \\\\ \\u0001 é ✓ \u2028"}'


def test_a_pinned_vector():
    text = "id: x\nb: [1, 2.5, true, 'yes']\na: {z: 1, y: {}}\nfingerprint: ignored\n"
    expected = '{"a":{"y":{},"z":1},"b":[1,2.5,true,"yes"],"id":"x"}'
    assert cj(text) == expected
    assert fingerprint_bytes(text) == "blake3:" + blake3.blake3(expected.encode()).hexdigest()
    assert fingerprint_bytes(text).startswith("blake3:") and len(fingerprint_bytes(text)) == 71


@pytest.mark.parametrize("value,text", [(1.0, "1"), (0.1, "0.1"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
                                        (1.5e-7, "1.5e-7"), (-2.5, "-2.5"), (123456789.125, "123456789.125"),
                                        (5e-324, "5e-324"), (2**53, "9007199254740992"), (-0.0, "0"), (100, "100")])
def test_js_number(value, text):
    assert js_number(value) == text


def test_js_number_refuses_non_finite():
    with pytest.raises(canonical.CanonicalError):
        js_number(float("inf"))


# -- properties ---------------------------------------------------------------------------------------

keys = st.text(min_size=1, max_size=6)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-(2**60), 2**60), st.text(max_size=8),
                   st.floats(allow_nan=False, allow_infinity=False))
docs = st.dictionaries(keys, st.recursive(leaves, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3),
                                          max_leaves=10), max_size=5)


@given(docs)
def test_canonical_json_is_valid_json_and_stable_under_key_order(doc):
    try:
        text = canonical_json(doc)
    except canonical.CanonicalError:
        return  # keys that collide after NFC
    parsed = json.loads(text)
    assert canonical_json(parsed) == text  # idempotent
    reordered = dict(reversed(list(doc.items())))
    assert canonical_json(reordered) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_number_round_trips(x):
    assert float(js_number(x)) == x or (x == 0 and js_number(x) == "0")


@given(docs)
def test_a_plain_document_is_written_without_the_walk_and_gives_the_same_bytes(doc):
    """Issue 12: the loader marks documents with nothing to normalise (yaml12.Document.plain) and
    canonical.document_bytes writes those with the C encoder's sorted keys; both paths must agree, byte for
    byte, on every document, and `plain` must be False whenever a null, float, big integer or non-ASCII
    key or string is in it."""
    try:
        document = yaml12.load(json.dumps(doc))  # JSON is YAML 1.2 (\u escapes keep the text ASCII)
    except yaml12.YamlError:
        return  # e.g. keys that collide after NFC
    try:
        expected = canonical.canonical_bytes(document.data)
    except canonical.CanonicalError:
        expected = None
    got = None
    try:
        got = canonical.document_bytes(document)
    except canonical.CanonicalError:
        pass
    assert got == expected
    odd = json.dumps(doc, ensure_ascii=True) != json.dumps(doc, ensure_ascii=False) or any(
        v is None or isinstance(v, float) or (isinstance(v, int) and not -(2**53) <= v <= 2**53)
        for v in _leaves(doc))
    assert document.plain is (not odd)


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_plain_documents_fingerprint_as_before():
    """A unit as the bench writes it (plain) and the same with a null, a float and an accent (not plain)."""
    text = "id: strat://dev/role/x@1.0.0\nfingerprint: blake3:00\nmeta: {tags: [a, b], n: 3}\nb: true\nz: 'q\"'\n"
    plain = yaml12.load(text)
    assert plain.plain
    assert canonical.fingerprint_document(plain) == canonical.fingerprint_of(plain.data) == fingerprint_bytes(text)
    for extra in ("x: ~\n", "x: 1.5\n", "x: caf\u00e9\n", "caf\u00e9: 1\n", "x: 9007199254740993\n"):
        document = yaml12.load(text + extra)
        assert not document.plain, extra
        assert canonical.fingerprint_document(document) == canonical.fingerprint_of(document.data)


# -- --update ---------------------------------------------------------------------------------------

def test_update_writes_only_the_fingerprint_and_keeps_crlf_and_bom(tmp_path):
    path = tmp_path / "u.yaml"
    path.write_bytes(b"\xef\xbb\xbfid: strat://dev/role/x@1.0.0\r\nversion: '1.0.0'\r\nk: yes # comment\r\n")
    changed, fp = edit.update_file(path)
    raw = path.read_bytes()
    assert changed and raw.startswith(b"\xef\xbb\xbf") and b"\r\nfingerprint: " + fp.encode() + b"\r\n" in raw
    assert b"# comment" in raw and fingerprint_bytes(raw) == fp
    assert edit.update_file(path) == (False, fp)


@given(docs)
def test_the_fast_path_writes_exactly_what_the_javascript_writer_does(doc):
    try:
        value = canonical.normalize(doc)
    except canonical.CanonicalError:
        return
    out: list[str] = []
    canonical._dump(value, out)
    assert canonical_json(doc) == "".join(out)


# -- numbers against the reference: JavaScript's own JSON.stringify (Deno) -----------------------------

def _deno() -> str:
    beside = Path(sys.executable).parent / "deno"
    found = str(beside) if beside.exists() else shutil.which("deno")
    assert found, "deno is a test dependency (PyPI package `deno`): pip install -e '.[test]'"
    return found


def _numbers() -> list[int | float]:
    """Edge cases of Number::toString plus a few hundred seeded doubles spread over every exponent."""
    edges = [0, 0.0, -0.0, 1, -1, 0.1, 0.2, 0.1 + 0.2, 1 / 3, 2 / 3, 100, 1e20, 1e21, 1e22, 123456789012345680000.0,
             1e-6, 1e-7, 1.5e-7, 0.000001, 0.0000001, 123e-20, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
             2**53, 2**53 - 1, 2**53 + 1, -(2**53) - 1, 2**64, 12345678901234567890, -12345678901234567890, 2**70 + 1,
             9007199254740993.0, 4.35, 0.5, 1.005, 1e15 + 0.3, 1e16, 123456789.125, -2.5e-5, 99.99999999999999,
             999999999999999900000.0, 1e-5, 9.999999999999999e20]
    rng = random.Random(20261122)
    doubles = []
    while len(doubles) < 300:
        x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(x):
            doubles.append(x)
    decimals = [round(rng.uniform(-1e6, 1e6), rng.randint(0, 9)) for _ in range(100)]
    return edges + doubles + decimals + [rng.randint(-(2**80), 2**80) for _ in range(50)]


def test_numbers_print_exactly_as_javascript_json_stringify_does(tmp_path):
    numbers = _numbers()
    # repr() round-trips a double exactly; JavaScript's Number() reads it back to the same double (and rounds
    # integers beyond 2**53 the same way float() does).
    (tmp_path / "in.txt").write_text("\n".join(repr(float(n)) if isinstance(n, float) else str(n) for n in numbers))
    script = tmp_path / "stringify.js"
    script.write_text(
        'const lines = Deno.readTextFileSync(Deno.args[0]).split("\\n");\n'
        'const nums = lines.map(Number);\n'
        'console.log(nums.map((n) => JSON.stringify(n)).join("\\n"));\n'
        'console.log(JSON.stringify({k: nums}));\n')
    env = {**os.environ, "NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1", "DENO_DIR": str(tmp_path / "deno")}
    out = subprocess.run([_deno(), "run", "--quiet", f"--allow-read={tmp_path}", str(script), str(tmp_path / "in.txt")],
                         capture_output=True, text=True, env=env, timeout=120, check=True).stdout.splitlines()
    assert len(out) == len(numbers) + 1 and len(numbers) >= 450
    mismatches = [(n, js_number(n), js) for n, js in zip(numbers, out) if js_number(n) != js]
    assert mismatches == []
    assert canonical_json({"k": numbers}) == out[-1]  # the document writer, not only the number formatter
