"""Issue 12: a tree loaded by a process pool (worker.units.load.Loader) is the tree one process loads.

The pool judges contiguous chunks of the sorted file list and one process assembles them in file order, so
everything that depends on more than one file (an id defined twice, a council defined twice) must come out as
one process finds it. A tree made of every kind of file the loader handles is loaded both ways and compared
field by field, in all three forms (documents, snapshot rows, --against baselines).
"""

from __future__ import annotations

import json
import os

import orjson
import pytest

from worker.units import load

UNIT = ("id: strat://dev/task/{slug}@1.0.0\ntype: task\ndomain: dev\nslug: {slug}\nversion: 1.0.0\nstatus: stable\n"
        "meta: {{title: t, description: d, tags: [x], author: a, created: '2025-01-01', modified: '2025-01-01'}}\n"
        "imports: []\ncouncil: council/x\nprompt_body: {body}\nrequires: {{capabilities: [code]}}\n"
        "contract: {{inputs: [], outputs: [], failure_modes: []}}\n")
COUNCIL = ("id: council/x\ndomain: dev\nversion: 1.0.0\nmeta: {title: x}\n"
           "agents: [{designation: DEV-01, role: dev, capabilities: [code], protected: false, gate_authority: false}]\n")


def _tree(root) -> None:
    (root / "a").mkdir()
    (root / "z").mkdir()
    for i in range(40):
        (root / "a" / f"t{i:02d}.yaml").write_text(UNIT.format(slug=f"t{i:02d}", body="do"))
    (root / "z" / "t05-again.yaml").write_text(UNIT.format(slug="t05", body="again"))  # an id defined twice
    (root / "a" / "broken.yaml").write_text("id: [unclosed\n")  # YAML error
    (root / "a" / "bad-schema.yaml").write_text(UNIT.format(slug="bad", body="do").replace("status: stable", "status: nope"))
    (root / "a" / "mismatch.yaml").write_text(UNIT.format(slug="mm", body="do").replace("slug: mm", "slug: other"))
    (root / "a" / "odd.yaml").write_text(UNIT.format(slug="odd", body="'café ü'"))  # not plain: the full walk
    (root / "a" / "council.yaml").write_text(COUNCIL)
    (root / "z" / "council-again.yaml").write_text(COUNCIL)  # a council defined twice


def _plain(snap: load.Snapshot) -> dict:
    return {"files": snap.files, "computed": snap.computed,
            "units": [(str(u.path), u.file, str(u.address), u.doc.data, u.doc.lines) for u in snap.units],
            "rows": json.loads(orjson.dumps(snap.rows)),
            "councils": [(str(c.path), c.doc.data) for c in snap.councils],
            "problems": [(p.file, p.line, p.message, p.address) for p in snap.problems]}


@pytest.mark.parametrize("form", load.FORMS)
def test_the_pool_loads_what_one_process_loads(tmp_path, monkeypatch, form):
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    with load.Loader(workers=1) as one:
        serial = one.submit(["a", "z"], form=form)()
    with load.Loader(workers=2, min_files=1) as pool:
        pending = pool.submit(["a", "z"], form=form)
        assert pool._pool is not None  # the pool's path, not the one-process one
        parallel = pending()
    assert _plain(parallel) == _plain(serial)
    got = _plain(serial)
    assert any("t05@1.0.0 is also defined in a/t05.yaml" in p[2] for p in got["problems"])
    assert any("council/x is also defined in a/council.yaml" in p[2] for p in got["problems"])
    assert any(p[0] == os.path.join("a", "broken.yaml") and p[2].startswith("yaml:") for p in got["problems"])
    assert any(p[0] == os.path.join("a", "bad-schema.yaml") and p[2].startswith("schema:") for p in got["problems"])
    assert any(p[2].startswith("address: slug") for p in got["problems"])
    assert len(got["computed"]) == 41 and len(got["councils"]) == 1
    assert len(got["units"] if form == "document" else got["rows"]) == 41


def test_a_pool_below_its_threshold_is_never_started(tmp_path):
    _tree(tmp_path)
    with load.Loader(workers=2, min_files=1000) as loader:
        snap = loader.submit([tmp_path])()
        assert loader._pool is None and snap.files == 47


def test_bad_loader_arguments_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="workers must be at least 1"):
        load.Loader(workers=0)
    with pytest.raises(ValueError, match="form must be one of document, row, baseline"):
        load.Loader(workers=1).submit([tmp_path], form="rows")
    with pytest.raises(FileNotFoundError, match="missing"):
        load.Loader(workers=1).submit([tmp_path / "missing"])


@pytest.mark.parametrize("files,workers", [(10_000, 2), (1_000, 2), (1_000, 8), (50_001, 4), (99, 2), (1, 3)])
def test_chunks_cover_the_files_in_order_and_shrink(files, workers):
    """Guided chunks: contiguous, in file order, every file once, each no larger than the one before, and none
    below load.CHUNK_MIN but the last."""
    bounds = load.chunk_bounds(files, workers)
    assert bounds[0][0] == 0 and bounds[-1][1] == files
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [end - start for start, end in bounds]
    assert sizes == sorted(sizes, reverse=True) or sizes[:-1] == sorted(sizes[:-1], reverse=True)
    assert all(size >= min(load.CHUNK_MIN, files) for size in sizes[:-1])
    assert sizes[0] == max(min(files, load.CHUNK_MIN), -(-files // (2 * workers)))


def test_baselines_are_the_units_a_row_load_accepts_without_fingerprinting_plain_documents(tmp_path, monkeypatch):
    """Issue 12, seventh pass: the `--against` tree skips the fingerprint of a plain document (never read; a plain
    document always canonicalises), yet the same files become baselines as become snapshot rows; a document that is
    not plain is still canonicalised (a failure there would keep it out)."""
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    rows = load.load(["a", "z"], validate=True)  # form "document": everything fingerprinted
    with load.Loader(workers=1) as one:
        base = one.submit(["a", "z"], form="baseline")()
    assert sorted(r["address"] for r in json.loads(orjson.dumps(base.rows))) == sorted(map(str, (u.address for u in rows.units)))
    assert base.problems == rows.problems
    odd = "strat://dev/task/odd@1.0.0"
    assert base.computed[odd] == rows.computed[odd] and base.computed[odd].startswith("blake3:")
    assert {k for k, v in base.computed.items() if v is None} == set(rows.computed) - {odd}
