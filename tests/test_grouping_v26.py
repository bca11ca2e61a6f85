"""Grouping version 26 changes only the texts its three steps are for (sql/20261211011000_grouping_v26.sql).

Version 25's ops.normalize_message, read from its migration, runs beside version 26's, read from its own (the current
function is version 27's since sql/20261211012000_grouping_v27.sql; tests/test_grouping_v27.py), over every message of
the fixtures (this compares two implementations, it tunes nothing) and the guard test's pieces: a text without a literal
of a version 26 step ("]:" of a syslog tag, "deprecated version of ", ".eks.amazonaws.com") normalizes as before, so
the CoreDNS step's tighter guard and its record-type list written once change nothing, and neither does any other
fingerprint.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from tests.test_normalize_guards import PIECES, _corpus_texts

ROOT = Path(__file__).resolve().parent.parent
V25 = ROOT / "sql" / "20261211010000_grouping_v25.sql"
V26 = ROOT / "sql" / "20261211011000_grouping_v26.sql"
V26_LITERALS = ("]:", "deprecated version of ", ".eks.amazonaws.com")


def _definition(migration: Path, name: str) -> str:
    body = migration.read_text(encoding="utf-8")
    start = body.index("CREATE OR REPLACE FUNCTION ops.normalize_message(")
    end = body.index("$$;", start) + 3
    return body[start:end].replace("FUNCTION ops.normalize_message(", f"FUNCTION public.{name}(", 1)


@pytest.fixture(scope="module")
def v25(module_db_url):
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute(_definition(V25, "normalize_v25"))
        conn.execute(_definition(V26, "normalize_v26"))
        yield conn
        conn.execute("DROP FUNCTION public.normalize_v25(text)")
        conn.execute("DROP FUNCTION public.normalize_v26(text)")


def _changed(conn, texts: list[str]) -> list[tuple[str, str, str]]:
    rows = conn.execute("SELECT t, public.normalize_v25(t), public.normalize_v26(t) FROM unnest(%s::text[]) t",
                        (texts,)).fetchall()
    return [r for r in rows if r[1] != r[2]]


def test_only_texts_of_a_v26_step_change(v25):
    texts = _corpus_texts() + list(PIECES)
    changed = _changed(v25, texts)
    assert changed, "version 26 changes the texts of its pairs (ops-b36pair-01, tf-b37pair-01)"
    unexplained = [r for r in changed if not any(lit in r[0].casefold() for lit in V26_LITERALS)]
    assert unexplained == []


def test_each_change_is_one_of_the_three_readings(v25):
    for text, old, new in _changed(v25, _corpus_texts()):
        # What version 26 writes: a syslog tag's pid as <n>, a deprecated action's major version, an EKS shard dropped.
        assert ("[<n>]:" in new or "deprecated version of" in new or ".eks.amazonaws.com" in new), (text, old, new)
        assert re.sub(r"\[<(n|hex)>\]:", "[<n>]:", old) == new or "deprecated version of" in new \
            or ".eks.amazonaws.com" in new, (text, old, new)
