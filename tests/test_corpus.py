"""The labelled corpus: real tools' phrasings must classify to their codes, in SQL."""

from __future__ import annotations

import json

import psycopg
import pytest
import yaml

from worker import ROOT

CORPUS = yaml.safe_load((ROOT / "tests/fixtures/classification_corpus.yaml").read_text())


@pytest.fixture(scope="module")
def classified(module_db_url):
    """Every corpus entry classified by ops.classify_error in one round trip."""
    with psycopg.connect(module_db_url) as conn:
        rows = conn.execute(
            "SELECT c.code FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS x (doc, n) "
            "CROSS JOIN LATERAL ops.classify_error(x.doc ->> 'source', x.doc ->> 'phase', x.doc ->> 'message') c "
            "ORDER BY x.n", (json.dumps(CORPUS),)).fetchall()
    return [r[0] for r in rows]


def test_corpus_covers_every_code(module_db_url):
    with psycopg.connect(module_db_url) as conn:
        codes = {r[0] for r in conn.execute("SELECT code FROM ops.failure_modes WHERE code NOT LIKE 'UNKNOWN.%'")}
    covered = {entry["expect"] for entry in CORPUS}
    assert codes - covered == set(), "every code has corpus examples"
    per_code = {c: sum(1 for e in CORPUS if e["expect"] == c) for c in codes}
    thin = {c: n for c, n in per_code.items() if n < 3}
    assert thin == {}, "every code has at least three phrasings"


@pytest.mark.parametrize("index", range(len(CORPUS)),
                         ids=[f"{e['expect']}:{str(e['message'])[:40]}" for e in CORPUS])
def test_corpus_entry(classified, index):
    entry = CORPUS[index]
    assert classified[index] == entry["expect"], entry
