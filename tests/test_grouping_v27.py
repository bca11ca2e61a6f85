"""Grouping version 27 changes only the texts its step is for (sql/20261211012000_grouping_v27.sql).

Version 26's ops.normalize_message, read from its migration, runs beside the current one over every message of the
fixtures (this compares two implementations, it tunes nothing) and the guard test's pieces: a text without a literal
of the version 27 step ('with provider["', ', in provider "') normalizes as before, and so does any other fingerprint.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.test_normalize_guards import PIECES, _corpus_texts

ROOT = Path(__file__).resolve().parent.parent
V26 = ROOT / "sql" / "20261211011000_grouping_v26.sql"
V27_LITERALS = ('with provider["', ', in provider "')


def _v26_definition() -> str:
    body = V26.read_text(encoding="utf-8")
    start = body.index("CREATE OR REPLACE FUNCTION ops.normalize_message(")
    end = body.index("$$;", start) + 3
    return body[start:end].replace("FUNCTION ops.normalize_message(", "FUNCTION public.normalize_v26(", 1)


@pytest.fixture(scope="module")
def v26(module_db_url):
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute(_v26_definition())
        yield conn
        conn.execute("DROP FUNCTION public.normalize_v26(text)")


def _changed(conn, texts: list[str]) -> list[tuple[str, str, str]]:
    rows = conn.execute("SELECT t, public.normalize_v26(t), ops.normalize_message(t) FROM unnest(%s::text[]) t",
                        (texts,)).fetchall()
    return [r for r in rows if r[1] != r[2]]


def test_only_texts_of_the_v27_step_change(v26):
    texts = _corpus_texts() + list(PIECES)
    changed = _changed(v26, texts)
    assert changed, "version 27 changes the texts of its pair (tf-b38pair-06)"
    unexplained = [r for r in changed if not any(lit in r[0].casefold() for lit in V27_LITERALS)]
    assert unexplained == []


def test_each_change_only_drops_a_provider_location(v26):
    for text, old, new in _changed(v26, _corpus_texts()):
        # What version 27 does: it drops the provider block's location, so the new text is the old one without it.
        assert 'provider "' in old or 'provider["' in old, (text, old, new)
        assert len(new) < len(old) and 'with provider["' not in new and ', in provider "' not in new, (text, old, new)
