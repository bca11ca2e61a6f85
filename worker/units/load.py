"""Find, parse, validate and fingerprint units and councils under some paths.

Everything a file can get wrong on its own (YAML, schema, id/field agreement, duplicate addresses)
is found here and reported as a :class:`Diagnostic`; the relational checks run later, in SQL, on the
snapshot this module builds (:func:`snapshot_payload`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import json
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema_rs
import orjson

from worker import ROOT
from worker.units import canonical, yaml12
from worker.units.model import Address, Council, Diagnostic, Unit, Version, consistency_problems

if TYPE_CHECKING:
    import jsonschema

SCHEMAS = ROOT / "ssot" / "schemas"
SUFFIXES = (".yaml", ".yml")


@cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    """The reference validator of ``ssot/schemas/<kind>.schema.json``. Imported here, not at module level:
    importing jsonschema builds its format checkers' grammars (about 1.4 s of every `stratt` start), and
    only an invalid document needs it (valid ones pass :func:`fast_validator`)."""
    import jsonschema

    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def display_path(path: Path) -> str:
    """Paths relative to the working directory when below it (what CI annotations expect).

    ``os.path.relpath(path)``, computed once per directory (it made absolute paths of both sides for every
    file: a tenth of loading 10,000 units). A Path is used as it is: ``Path(path)`` of a Path parses it again,
    and so does ``.parent`` (together about 5 % of a worker's time per file)."""
    if not isinstance(path, Path):
        path = Path(path)
    text = str(path)
    parent = os.path.dirname(text) or os.curdir  # str(path.parent), without building it
    try:
        folder = _relative_folder(os.getcwd(), parent)
    except ValueError:  # pragma: no cover - other drive on Windows
        return text
    return path.name if folder == os.curdir else os.path.join(folder, path.name)


@lru_cache(maxsize=4096)
def _relative_folder(cwd: str, folder: str) -> str:
    return os.path.relpath(folder, cwd)


def find_files(paths: list[str | Path]) -> list[Path]:
    found: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.update(Path(root) / f for f in files if f.endswith(SUFFIXES))
        elif p.is_file():
            found.add(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    return sorted(found)


@dataclass
class Snapshot:
    units: list[Unit] = field(default_factory=list)
    councils: list[Council] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)
    computed: dict[str, str | None] = field(default_factory=dict)  # address -> computed fingerprint (None: a plain baseline's, not computed)
    files: int = 0
    seconds: float = 0.0
    # form "row" / "baseline" (Loader.submit): each accepted unit's row as JSON, in file order; `units` stays empty
    rows: list[orjson.Fragment] = field(default_factory=list)

    @property
    def unit_count(self) -> int:
        return len(self.units) + len(self.rows)

    def unit(self, address: str) -> Unit | None:
        return next((u for u in self.units if str(u.address) == address), None)


def compile_fast(schema: dict):
    """A yes/no check of ``schema`` (JSON Schema 2020-12) compiled by jsonschema-rs: True when valid. Formats are
    not checked and no defaults are filled in, as jsonschema (the reference) does by default. False also for a
    value jsonschema-rs cannot take (a mapping key that is not a string): the caller then asks the reference, so
    only the reference's answer ever rejects a document (where the two read a pattern differently, jsonschema-rs is
    the stricter: Python's `$` also matches before a final newline). Raises ValueError for a schema that is not
    one."""
    check = jsonschema_rs.Draft202012Validator(schema, validate_formats=False).is_valid

    def is_valid(data) -> bool:
        try:
            return check(data)
        except (ValueError, TypeError, OverflowError):
            return False

    return is_valid


@cache
def fast_validator(kind: str):
    """The hot path's check for ``ssot/schemas/<kind>.schema.json`` (:func:`compile_fast`): True when valid.
    Otherwise :func:`validator` (jsonschema, the reference) judges the document and gives the messages."""
    return compile_fast(json.loads((SCHEMAS / f"{kind}.schema.json").read_text()))


def _schema_problems(kind: str, doc: yaml12.Document, file: str) -> list[Diagnostic]:
    if fast_validator(kind)(doc.data):
        return []
    v = validator(kind)  # the messages come from jsonschema itself
    if v.is_valid(doc.data):  # the fast check could not judge it, or reads it stricter: the reference decides
        return []
    out = []
    for err in sorted(v.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(Diagnostic(file, doc.line(*err.absolute_path), f"schema: {where}: {err.message}",
                           doc.data.get("id") if isinstance(doc.data.get("id"), str) else None))
    return out


def parse_file(path: Path) -> tuple[yaml12.Document | None, Diagnostic | None]:
    try:
        return yaml12.load(path.read_bytes()), None
    except yaml12.YamlError as exc:
        return None, Diagnostic(display_path(path), exc.line or 1, f"yaml: {exc}")


@contextlib.contextmanager
def collector_paused():
    """The cyclic garbage collector off inside the block (restored after, as it was). Loading and building
    the snapshot's rows make only acyclic values (dicts, lists, strings, line tables) and keep them, so no
    collection can free anything; yet each one rescans everything alive: a sixth of loading 10,000 units.
    Reference counting still frees every temporary as usual. Nests (an inner block leaves it off)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load(paths: list[str | Path], *, validate: bool = True) -> Snapshot:
    """Every file under ``paths``, parsed, validated and fingerprinted in this process (see :class:`Loader`
    for the parallel form). Raises FileNotFoundError naming a path that does not exist."""
    with Loader(workers=1) as loader:
        return loader.submit(paths, validate=validate)()


# What a file becomes, by `form`: "document" keeps the parsed Document (Snapshot.units); "row" the unit's
# snapshot row as JSON (Snapshot.rows, what ops.begin_unit_ci reads); "baseline" its --against row as JSON
# (address, name, version parts and the parts of the document the comparison reads: BASELINE_KEYS).
FORMS = ("document", "row", "baseline")
BASELINE_KEYS = ("composition", "contract")  # FM-04/FM-05 read a baseline's steps, FM-06 its contract
# What the checks read of a unit's document in the snapshot (ops.unit_snapshot.doc): the edges come from
# `imports` and `composition` (its steps), FM-04/FM-05/FM-09 and the blast radii read `composition` and `council`,
# FM-04 `overrides`, FM-06 `contract`, FM-09 `requires`, FM-07 `deprecation`. Everything else of the document
# (meta, prompt_body, persona ...) is never read there, and the fields the checks compare (address, version,
# status, fingerprint) travel as columns of the row. tests/test_units_checks.py holds this list against every
# `doc -> 'key'` of the unit-CI SQL, so a check that starts reading another key fails until it is added here.
SNAPSHOT_KEYS = ("imports", "composition", "council", "overrides", "contract", "requires", "deprecation")
PARALLEL_MIN_FILES = 1000  # below this a tree loads faster in one process than the pool starts and returns


@dataclass(slots=True)
class _Judged:
    """One file as :func:`_judge_file` leaves it, for :func:`_assemble` (which alone knows about duplicates).
    kind: "unreadable" (YAML error), "council" or "unit"; the fields after ``problems`` are set for a unit that
    passed its own checks (and ``doc`` for every council). ``path`` only where a Unit or Council is built from
    it (a pool sends every field back: a Path costs more to unpickle than the row beside it)."""

    kind: str
    path: Path | None
    file: str
    ident: object = None
    id_line: int = 1
    problems: list[Diagnostic] = field(default_factory=list)
    doc: yaml12.Document | None = None
    computed: str | None = None
    canonical_error: str | None = None
    row: bytes | str | None = None


def _judge_file(path: Path, validate: bool, form: str) -> _Judged:
    """Everything one file can get wrong on its own, and its fingerprint and row: the per-file work of a load,
    the same in this process and in a pool's."""
    doc, problem = parse_file(path)
    file = display_path(path)
    if problem:
        return _Judged("unreadable", path, file, problems=[problem])
    ident = doc.data.get("id")
    if isinstance(ident, str) and ident.startswith("council/"):
        problems = _schema_problems("council", doc, file) if validate else []
        return _Judged("council", path, file, ident, doc.line("id"), problems, doc)
    problems = _schema_problems("unit", doc, file) if validate else []
    if not problems:
        problems = [Diagnostic(file, doc.line(*where), f"address: {msg}", ident)
                    for where, msg in consistency_problems(doc.data)]
    judged = _Judged("unit", path, file, ident, doc.line("id"), problems)
    if problems:
        return judged
    if form != "baseline" or not doc.plain:
        # A baseline's fingerprint is never read (only whether its document can be canonicalised: one that
        # cannot is not a baseline), and a plain document always can (canonical.document_bytes): the
        # baseline tree of `--against` skips the serialisation and hash of nearly every file.
        try:
            judged.computed = canonical.fingerprint_document(doc)
        except canonical.CanonicalError as exc:
            judged.canonical_error = str(exc)
            return judged
    unit = Unit(path, doc, Address.parse(ident), file)
    if form != "document":
        judged.path = None
    if form == "row":
        judged.row = dumps(_unit_row(unit, judged.computed, SNAPSHOT_KEYS))
    elif form == "baseline":
        v = unit.version
        judged.row = dumps({"address": str(unit.address), "name": unit.address.name, "version": unit.address.version,
                            "major": v.major, "minor": v.minor, "patch": v.patch,
                            "doc": {k: doc.data[k] for k in BASELINE_KEYS if k in doc.data}})
    else:
        judged.doc = doc
    return judged


def _judge_chunk(files: list[Path], validate: bool, form: str) -> list[_Judged]:
    with collector_paused():
        return [_judge_file(path, validate, form) for path in files]


def _assemble(judged, files: int, form: str) -> Snapshot:
    """The snapshot of judged files in file order: a second definition of an id is a problem of its file."""
    snap = Snapshot(files=files)
    seen: dict[str, str] = {}
    for j in judged:
        if j.kind == "unreadable":
            snap.problems.extend(j.problems)
            continue
        problems = list(j.problems)
        if j.kind == "council":
            if j.ident in seen:
                problems.append(Diagnostic(j.file, j.id_line, f"{j.ident} is also defined in {seen[j.ident]}", j.ident))
            if problems:
                snap.problems.extend(problems)
                continue
            seen[j.ident] = j.file
            snap.councils.append(Council(j.path, j.doc))
            continue
        if not problems and j.ident in seen:
            problems.append(Diagnostic(j.file, j.id_line, f"{j.ident} is also defined in {seen[j.ident]}", j.ident))
        if problems:
            snap.problems.extend(problems)
            continue
        seen[j.ident] = j.file
        if j.canonical_error is not None:
            snap.problems.append(Diagnostic(j.file, 1, f"canonical: {j.canonical_error}", j.ident))
            continue
        snap.computed[j.ident] = j.computed
        if form == "document":
            snap.units.append(Unit(j.path, j.doc, Address.parse(j.ident), j.file))
        else:
            snap.rows.append(orjson.Fragment(j.row))
    return snap


def default_workers() -> int:
    """The CPUs this process may run on (os.sched_getaffinity where the platform has it, else os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


class Loader:
    """Loads trees, in a process pool when a tree has at least ``min_files`` files and ``workers`` > 1.

    Parsing, validating, fingerprinting and building the rows of one file needs nothing of any other file, so
    the sorted file list is cut into contiguous chunks, each judged in a worker process; the judged files come
    back in file order and :func:`_assemble` settles duplicate ids exactly as one process would. The pool is
    started on the first tree that needs it (fork where the platform has it: the compiled validators are
    inherited) and shut down by :meth:`close` / the ``with`` block. ``workers`` None: :func:`default_workers`;
    ``min_files`` None: :data:`PARALLEL_MIN_FILES`. Raises ValueError for ``workers`` below 1.

    :meth:`submit` returns a callable giving the :class:`Snapshot`: submitting two trees before asking for
    either loads them side by side (``stratt ci --against``)."""

    def __init__(self, workers: int | None = None, min_files: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = default_workers() if workers is None else workers
        self.min_files = PARALLEL_MIN_FILES if min_files is None else min_files
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            fast_validator("unit"), fast_validator("council")  # compiled once, inherited by forked workers
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._pool = concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    def submit(self, paths: list[str | Path], *, validate: bool = True, form: str = "document"):
        """Start loading ``paths``; returns a callable that waits and gives the Snapshot (its ``seconds`` run
        from this call). ``form``: see :data:`FORMS`. Raises FileNotFoundError naming a missing path, and
        ValueError for an unknown form."""
        if form not in FORMS:
            raise ValueError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
        start = time.perf_counter()
        files = find_files(paths)
        if self.workers > 1 and len(files) >= self.min_files:
            futures = [self._executor().submit(_judge_chunk, files[i:j], validate, form)
                       for i, j in chunk_bounds(len(files), self.workers)]

            def result() -> Snapshot:
                with collector_paused():
                    snap = _assemble((j for f in futures for j in f.result()), len(files), form)
                snap.seconds = time.perf_counter() - start
                return snap
            return result
        snap = _assemble(_judge_chunk(files, validate, form), len(files), form)
        snap.seconds = time.perf_counter() - start
        return lambda: snap


CHUNK_MIN = 100  # files: below this a chunk's round trip (pickling its paths and rows) is no longer small beside it


def chunk_bounds(files: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous [start, end) ranges that cover ``files`` in order, each half of what is left per worker (guided
    scheduling, as OpenMP's `schedule(guided)`), at least :data:`CHUNK_MIN`: large chunks first, then smaller and
    smaller ones, so the workers finish together (with equal chunks, one worker could still be judging a whole
    chunk of 1,250 files while the other sat idle: about 0.15 s at 10,000 units)."""
    bounds, start = [], 0
    while start < files:
        size = max(CHUNK_MIN, -(-(files - start) // (2 * workers)))
        bounds.append((start, min(files, start + size)))
        start += size
    return bounds


def dumps(value) -> bytes | str:
    """JSON text of a row or payload that ops.begin_unit_ci reads: orjson writes 10,000 units in about a fifth
    of json.dumps' time (0.03-0.05 s against 0.17 s, bench tree). jsonb reads both to the same value; json.dumps
    remains for what orjson refuses (an integer beyond 64 bits, a lone surrogate)."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value)


def _unit_row(unit: Unit, computed: str | None, doc_keys: tuple[str, ...] | None = None) -> dict:
    """A unit's snapshot row; ``doc_keys``: the keys of its document to send (None: all of it)."""
    data, doc = unit.data, unit.doc
    v = unit.version
    steps = (data.get("composition") or {}).get("steps") or []
    return {
        "address": str(unit.address), "name": unit.address.name, "domain": unit.address.domain,
        "type": unit.address.type, "slug": unit.address.slug, "version": unit.address.version,
        "major": v.major, "minor": v.minor, "patch": v.patch, "prerelease": v.prerelease,
        "status": data.get("status"), "fingerprint": data.get("fingerprint"), "computed": computed,
        "council": data.get("council"), "file": unit.file or display_path(unit.path), "line": doc.line("id"),
        "doc": data if doc_keys is None else {k: data[k] for k in doc_keys if k in data},
        "lines": {
            "fingerprint": doc.line("fingerprint"), "status": doc.line("status"),
            "composition": doc.line("composition"), "contract": doc.line("contract"),
            "imports": [doc.line("imports", i) for i in range(len(data.get("imports") or []))],
            "steps": [doc.line("composition", "steps", i) for i in range(len(steps))],
        },
    }


def unit_rows(units: list[Unit], computed: dict[str, str]) -> list[dict]:
    return [_unit_row(u, computed.get(str(u.address))) for u in units]


def council_rows(councils: list[Council]) -> list[dict]:
    return [{"id": c.id, "domain": c.doc.data.get("domain"), "version": c.doc.data.get("version"),
             "file": display_path(c.path), "line": c.doc.line("id"), "doc": c.doc.data,
             "lines": {"agents": [c.doc.line("agents", i) for i in range(len(c.doc.data.get("agents") or []))]}}
            for c in councils]


def problem_rows(problems: list[Diagnostic]) -> list[dict]:
    return [{"file": p.file, "line": p.line, "message": p.message, "address": p.address} for p in problems]


def version_of(text: str) -> Version:
    return Version.parse(text)
