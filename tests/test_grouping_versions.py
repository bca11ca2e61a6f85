"""Each grouping version changes only the texts its steps are for.

A version's ops.normalize_message, read from its migration, runs beside the next version's (the current function for
the latest) over every message of the fixtures and the guard test's pieces (this compares two implementations, it tunes
nothing). A text without a literal of one of the newer version's steps must normalize as before, so a tighter guard or a
list written once changes nothing, and neither does any other fingerprint; each text that does change must show the
step's reading.

- Version 26 (sql/20261211011000_grouping_v26.sql): a syslog tag's pid reads <n> ("]:"), a deprecated action's major
  version is kept ("deprecated version of "), an EKS endpoint's shard label is dropped (".eks.amazonaws.com"); the
  CoreDNS step of version 24 got a tighter guard and its record-type list written once.
- Version 27 (sql/20261211012000_grouping_v27.sql): Terraform's location of a diagnostic in a provider block is dropped
  ('with provider["', ', in provider "').
- Version 28 (sql/20261211013000_grouping_v28.sql): the provider Terraform names before " produced an unexpected new
  value" (or "invalid new value") reads provider "<source>" ('" produced an '), Go's nil ". last error: %!s(<nil>)"
  is dropped ('last error: %!s(<nil>)'), and so are a Python dict's number, None and boolean fields after the message
  with its closing braces at a line end ("', '").
- Version 29 (sql/20261211014000_grouping_v29.sql): a masked API key after "api key provided: " reads "<key>"
  ("api key provided: ").
- Version 30 (sql/20261211015000_grouping_v30.sql): a client's HTTP status leading a line before an API's error body is
  dropped ("api error: ", "error code: ", "http ", "internal error: "), and so is Odoo's log record (pid, level,
  database, logger) leading a line (" debug ", " info ", " warning ", " error ", " critical ").
- Version 31 (sql/20261211016000_grouping_v31.sql): Unbound's log record tag "<program>[<pid>:<thread>] " leading a
  line before a level is dropped with the level ("] "; its guard reads ":<n>] " in the normalized text).
- Version 32 (sql/20261211017000_grouping_v32.sql): the escaped frame lines of a JavaScript stack serialized in a JSON
  string are dropped ("\\n", with "at "), and so is "{"stack":"" leading a line ('"stack":').
- Version 33 (sql/20261211018000_grouping_v33.sql): a Markdown code fence line is dropped ("```"), and so are "{" and
  a "name": "<Class>Error" field before a "message" field ('"name":'); a hex exit status is kept ("0x", with "exit").
- Version 34 (sql/20261211019000_grouping_v34.sql): Docker Compose's service prefix leading a line is dropped (" | ",
  " |" at a line end), and a date with a month's name before a time of day reads <ts> (the month's name).
- Version 35 (sql/20261213000100_grouping_v35.sql): Terraform's location of a diagnostic in a resource, data source or
  module flattened on the summary's line is dropped (", in "; its guard reads " line <n>, in " in the normalized text).
To add a version: add its migration to DEFINED, a row to STEPS and a reading check.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from tests.test_normalize_guards import PIECES, _corpus_texts

ROOT = Path(__file__).resolve().parent.parent
# Versions read from their migrations (the latest is the current ops.normalize_message).
DEFINED = {25: "20261211010000_grouping_v25.sql", 26: "20261211011000_grouping_v26.sql",
           27: "20261211012000_grouping_v27.sql", 28: "20261211013000_grouping_v28.sql",
           29: "20261211014000_grouping_v29.sql", 30: "20261211015000_grouping_v30.sql",
           31: "20261211016000_grouping_v31.sql", 32: "20261211017000_grouping_v32.sql",
           33: "20261211018000_grouping_v33.sql", 34: "20261211019000_grouping_v34.sql"}
LATEST = 35
# version -> (literals of its steps, a pair it was made for)
STEPS = {
    26: (("]:", "deprecated version of ", ".eks.amazonaws.com"), "ops-b36pair-01, tf-b37pair-01"),
    27: (('with provider["', ', in provider "'), "tf-b38pair-06"),
    28: (('" produced an ', "last error: %!s(<nil>)", "', '"), "tf-b39pair-06, tf-b38pair-04, agent-b39pair-06"),
    29: (("api key provided: ",), "agent-b40pair-06"),
    30: (("api error: ", "error code: ", "http ", "internal error: ", " debug ", " info ", " warning ", " error ",
          " critical "), "agent-b41pair-05, odoo-b39pair-03"),
    31: (("] ",), "dns-b42pair-09"),
    32: (("\\n", '"stack":'), "vercel-b40pair-08, ops-b43pair-03"),
    33: (("```", '"name":', "0x"), "gha-b44pair-05, agent-b44pair-03, agent-b44pair-08"),
    34: ((" | ", " |\n", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
         "ops-b45pair-05"),
    35: ((", in ",), "tf-b58pair-07"),
}


def _definition(version: int) -> str:
    body = (ROOT / "sql" / DEFINED[version]).read_text(encoding="utf-8")
    start = body.index("CREATE OR REPLACE FUNCTION ops.normalize_message(")
    end = body.index("$$;", start) + 3
    return body[start:end].replace("FUNCTION ops.normalize_message(", f"FUNCTION public.normalize_v{version}(", 1)


def _function(version: int) -> str:
    return "ops.normalize_message" if version == LATEST else f"public.normalize_v{version}"


@pytest.fixture(scope="module")
def conn(module_db_url):
    with psycopg.connect(module_db_url, autocommit=True) as c:
        assert c.execute("SELECT ops.current_fingerprint_version()").fetchone()[0] == LATEST
        for version in DEFINED:
            c.execute(_definition(version))
        yield c
        for version in DEFINED:
            c.execute(f"DROP FUNCTION public.normalize_v{version}(text)")


@pytest.fixture(scope="module")
def changed(conn):
    """changed(version, texts) -> [(text, before, after)] for each text that `version` normalizes differently from
    `version - 1`. Each version normalizes the fixtures' texts and PIECES once per module (one query), not once per
    test: every version's tests compare the same texts."""
    texts = list(dict.fromkeys(_corpus_texts() + list(PIECES)))
    normalized: dict[int, dict[str, str]] = {}

    def by(version: int) -> dict[str, str]:
        if version not in normalized:
            rows = conn.execute(f"SELECT {_function(version)}(t) FROM unnest(%s::text[]) WITH ORDINALITY u(t, i) "
                                "ORDER BY i", (texts,)).fetchall()
            normalized[version] = dict(zip(texts, (r[0] for r in rows), strict=True))
        return normalized[version]

    def diff(version: int, among: list[str]) -> list[tuple[str, str, str]]:
        before, after = by(version - 1), by(version)
        return [(t, before[t], after[t]) for t in dict.fromkeys(among) if before[t] != after[t]]

    return diff


@pytest.mark.parametrize("version", sorted(STEPS))
def test_only_texts_of_the_versions_steps_change(changed, version):
    literals, pairs = STEPS[version]
    rows = changed(version, _corpus_texts() + list(PIECES))
    assert rows, f"version {version} changes the texts of its pairs ({pairs})"
    assert [r for r in rows if not any(lit in r[0].casefold() for lit in literals)] == []


def test_version_26_changes_are_its_three_readings(changed):
    for text, old, new in changed(26, _corpus_texts()):
        # A syslog tag's pid as <n>, a deprecated action's major version, an EKS shard dropped.
        assert ("[<n>]:" in new or "deprecated version of" in new or ".eks.amazonaws.com" in new), (text, old, new)
        assert re.sub(r"\[<(n|hex)>\]:", "[<n>]:", old) == new or "deprecated version of" in new \
            or ".eks.amazonaws.com" in new, (text, old, new)


def test_version_27_changes_only_drop_a_provider_location(changed):
    def locations(t: str) -> int:
        return t.count('with provider["') + t.count(', in provider "')

    for text, old, new in changed(27, _corpus_texts()):
        # The new text is the old one without the provider block's location (or, where a log prefix interleaves the
        # location's two lines on one line, blind44's `with provider["<source> level=error msg= on <file> line <n>, in
        # provider "<name>":`, without one of its two parts).
        assert 'provider "' in old or 'provider["' in old, (text, old, new)
        assert len(new) < len(old) and locations(new) < locations(old), (text, old, new)


def test_version_28_changes_are_its_three_readings(changed):
    fields = re.compile(r"'(, '[a-z_]{1,40}': ([0-9]+|<n>|none|true|false|null))+\}+(?=\s|$)")
    for text, old, new in changed(28, _corpus_texts()):
        # A provider read as provider "<source>" before its inconsistent result, Go's nil last error dropped, or a
        # dict's scalar fields after the message dropped with its braces.
        if fields.search(old) and fields.sub("", old) == new:
            continue
        if "last error: %!s(<nil>)" in old:
            assert new == re.sub(r"\.?[ \t]*last error: %!s\(<nil>\)", "", old), (text, old, new)
        else:
            source = r'provider "[a-z0-9<>.-]+/[a-z0-9_<>.-]+/[a-z0-9_<>.-]+" produced an (unexpected|invalid) new'
            assert re.search(source, new), (text, old, new)


def test_version_29_changes_are_its_reading(changed):
    masked = re.compile(r"(api key provided: )[a-z0-9<>_-]*\*{2,}[a-z0-9<>_-]*")
    for text, old, new in changed(29, _corpus_texts()):
        # A masked key after "api key provided: " reads <key>; nothing else changes.
        assert masked.search(old) and new == masked.sub(r"\1<key>", old), (text, old, new)


def test_version_30_changes_are_its_readings(changed):
    # Normalized texts are one line: a line start of the message is a start or a blank here.
    status = re.compile(r"(?:^|(?<=\s))(api error:|error code:|http|internal error:) [1-5][0-9]{2}(:| -)? (?=\{|<<n>> )")
    record = re.compile(r"(?:^|(?<=\s))<n> (debug|info|warning|error|critical) \S+ [a-z][a-z0-9_.]{0,80}: ")

    def without(t: str) -> str:
        return " ".join(record.sub("", status.sub("", t)).split())

    for text, old, new in changed(30, _corpus_texts()):
        # A client's status before an API's error body, or Odoo's log record, leading a line is dropped; nothing else.
        assert status.search(old) or record.search(old), (text, old, new)
        assert len(new) < len(old) and without(old) == without(new), (text, old, new)


def test_version_31_changes_are_its_reading(changed):
    # Normalized texts are one line: a line start of the message is a start or a blank here.
    tag = re.compile(r"(?:^|(?<=\s))[a-z][a-z0-9_.-]{0,63}\[<(?:n|hex)>:<n>\] "
                     r"(?:(?:error|warning|info|debug|notice): ?|(?=fatal error:))")

    def without(t: str) -> str:
        return " ".join(tag.sub("", t).split())

    for text, old, new in changed(31, _corpus_texts()):
        # Unbound's tag leading a line before a level is dropped with the level; nothing else changes.
        assert tag.search(old), (text, old, new)
        assert len(new) < len(old) and without(old) == without(new), (text, old, new)


def test_version_32_changes_are_its_reading(changed):
    for text, old, new in changed(32, _corpus_texts()):
        # Escaped stack frame lines, or "{"stack":"" leading a line, are dropped: the new text is shorter and is the
        # old one with characters taken out (a leading "error:" the decorations then drop may go too), nothing added.
        assert ("\\n" in old and " at " in old) or '{"stack":"' in old, (text, old, new)
        rest = iter(old)
        assert len(new) < len(old) and all(c in rest for c in new), (text, old, new)


def test_version_33_changes_are_its_readings(changed):
    hex_exit = re.compile(r"exit(ed)?[\s_-]*(code|status)?[\s:=]*0x[0-9a-f]+", re.IGNORECASE)
    name = re.compile(r'^[ \t]*\{[ \t]*\n[ \t]*"name":[ \t]*"[A-Za-z0-9_.]*(Error|Exception)",[ \t]*\n[ \t]*"message":',
                      re.MULTILINE)
    fence = re.compile(r"^[ \t]*```[A-Za-z0-9_+.-]*[ \t]*$", re.MULTILINE)
    for text, old, new in changed(33, _corpus_texts()):
        # A fence line or a JSON class field dropped (the new text is the old one with characters taken out), or a hex
        # exit status kept where it read <hex>.
        rest = iter(old)
        dropped = (fence.search(text) or name.search(text)) and len(new) < len(old) and all(c in rest for c in new)
        kept = hex_exit.search(text) and hex_exit.search(new) and "<hex>" in old
        assert dropped or kept, (text, old, new)


def test_version_34_changes_are_its_readings(changed):
    compose = re.compile(r"^[ \t]*[a-z0-9][a-z0-9_.-]*[-_][0-9]+[ \t]+\|( |$)", re.IGNORECASE | re.MULTILINE)
    month = re.compile(r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?[ \t]+[0-9]{1,2}(,?[ \t]+[0-9]{4})?"
                       r"[ \t]+[0-9]{1,2}:[0-9]{2}:[0-9]{2}|[0-9]{1,2}[ \t]+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
                       r"[a-z]{0,6}\.?[ \t]+[0-9]{4}[ \t]+[0-9]{1,2}:[0-9]{2}:[0-9]{2}", re.IGNORECASE)
    names = re.compile(r"(mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*")
    for text, old, new in changed(34, _corpus_texts()):
        # A Compose prefix dropped (the new text is the old one with characters taken out), or a month-named date read
        # <ts> (dropped leading a line): fewer <time> than before, and no month or weekday name the old one lacked.
        rest = iter(old)
        dropped = compose.search(text) and len(new) < len(old) and all(c in rest for c in new)
        dated = month.search(text) and new.count("<time>") < old.count("<time>") \
            and set(names.findall(new)) <= set(names.findall(old))
        assert dropped or dated, (text, old, new)


def test_version_35_changes_are_its_reading(changed):
    location = re.compile(r" line <n>, in (resource|data|module) ")
    for text, old, new in changed(35, _corpus_texts()):
        # A flattened location dropped: the new text is the old one with characters taken out, the location among them,
        # and no location left.
        rest = iter(old)
        assert location.search(old) and not location.search(new) and len(new) < len(old) \
            and all(c in rest for c in new), (text, old, new)
