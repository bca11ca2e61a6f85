"""Find, parse, validate and fingerprint units and councils under some paths.

Everything a file can get wrong on its own (YAML, schema, id/field agreement, duplicate addresses)
is found here and reported as a :class:`Diagnostic`; the relational checks run later, in SQL, on the
snapshot this module builds (:func:`snapshot_payload`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import time
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import fastjsonschema

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
    file: a tenth of loading 10,000 units)."""
    path = Path(path)
    try:
        folder = _relative_folder(os.getcwd(), str(path.parent))
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)
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
    computed: dict[str, str] = field(default_factory=dict)  # address -> computed fingerprint
    files: int = 0
    seconds: float = 0.0

    def unit(self, address: str) -> Unit | None:
        return next((u for u in self.units if str(u.address) == address), None)


# The keywords fastjsonschema (draft-07) reads exactly as JSON Schema 2020-12 does. A schema using any
# other keyword is refused: fastjsonschema would silently ignore a 2020-12-only one (dependentRequired,
# prefixItems, unevaluatedProperties ...), and it checks formats that jsonschema (the reference) does not.
FAST_KEYWORDS = frozenset({
    "$schema", "$id", "$comment", "title", "description", "default", "examples", "$defs", "$ref",
    "type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "required", "properties", "additionalProperties", "propertyNames",
    "patternProperties", "minProperties", "maxProperties", "items", "minItems", "maxItems", "uniqueItems",
    "contains", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"})
_NAMED = ("properties", "patternProperties", "$defs")  # their keys are names, not keywords


def _fast_keywords_only(node, where: str = "#") -> None:
    """Raises ValueError naming the first keyword (and where) that fastjsonschema would read differently."""
    if isinstance(node, bool):
        return
    for key, arg in node.items():
        if key not in FAST_KEYWORDS or (key == "items" and isinstance(arg, list)):
            raise ValueError(f"{where}: fast_validator does not handle {key!r} as JSON Schema 2020-12 does; "
                             "use jsonschema")
        if key in _NAMED:
            for name, sub in arg.items():
                _fast_keywords_only(sub, f"{where}/{key}/{name}")
        elif key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(arg):
                _fast_keywords_only(sub, f"{where}/{key}/{i}")
        elif key in ("additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else"):
            _fast_keywords_only(arg, f"{where}/{key}")


def compile_fast(schema: dict):
    """A yes/no check of ``schema`` compiled by fastjsonschema (no defaults filled in, formats not
    checked, as jsonschema does by default). Raises ValueError for a keyword it would read otherwise."""
    _fast_keywords_only(schema)
    check = fastjsonschema.compile(schema, use_default=False, use_formats=False)

    def is_valid(data) -> bool:
        try:
            check(data)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    return is_valid


@cache
def fast_validator(kind: str):
    """The hot path's check for ``ssot/schemas/<kind>.schema.json``: True when valid. For an invalid
    document the messages come from :func:`validator` (jsonschema, the reference)."""
    return compile_fast(json.loads((SCHEMAS / f"{kind}.schema.json").read_text()))


def _schema_problems(kind: str, doc: yaml12.Document, file: str) -> list[Diagnostic]:
    if fast_validator(kind)(doc.data):
        return []
    v = validator(kind)  # the messages come from jsonschema itself
    if v.is_valid(doc.data):  # pragma: no cover - the two disagree: trust jsonschema, it is the reference
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
    with collector_paused():
        return _load(paths, validate=validate)


def _load(paths: list[str | Path], *, validate: bool) -> Snapshot:
    start = time.perf_counter()
    snap = Snapshot()
    files = find_files(paths)
    snap.files = len(files)
    seen: dict[str, str] = {}
    for path in files:
        doc, problem = parse_file(path)
        file = display_path(path)
        if problem:
            snap.problems.append(problem)
            continue
        ident = doc.data.get("id")
        if isinstance(ident, str) and ident.startswith("council/"):
            problems = _schema_problems("council", doc, file) if validate else []
            if ident in seen:
                problems.append(Diagnostic(file, doc.line("id"), f"{ident} is also defined in {seen[ident]}", ident))
            if problems:
                snap.problems.extend(problems)
                continue
            seen[ident] = file
            snap.councils.append(Council(path, doc))
            continue
        problems = _schema_problems("unit", doc, file) if validate else []
        if not problems:
            problems = [Diagnostic(file, doc.line(*where), f"address: {msg}", ident)
                        for where, msg in consistency_problems(doc.data)]
        if not problems and ident in seen:
            problems.append(Diagnostic(file, doc.line("id"), f"{ident} is also defined in {seen[ident]}", ident))
        if problems:
            snap.problems.extend(problems)
            continue
        seen[ident] = file
        unit = Unit(path, doc, Address.parse(ident), file)
        try:
            snap.computed[ident] = canonical.fingerprint_document(doc)
        except canonical.CanonicalError as exc:
            snap.problems.append(Diagnostic(file, 1, f"canonical: {exc}", ident))
            continue
        snap.units.append(unit)
    snap.seconds = time.perf_counter() - start
    return snap


def _unit_row(unit: Unit, computed: str | None) -> dict:
    data, doc = unit.data, unit.doc
    v = unit.version
    steps = (data.get("composition") or {}).get("steps") or []
    return {
        "address": str(unit.address), "name": unit.address.name, "domain": unit.address.domain,
        "type": unit.address.type, "slug": unit.address.slug, "version": unit.address.version,
        "major": v.major, "minor": v.minor, "patch": v.patch, "prerelease": v.prerelease,
        "status": data.get("status"), "fingerprint": data.get("fingerprint"), "computed": computed,
        "council": data.get("council"), "file": unit.file or display_path(unit.path), "line": doc.line("id"),
        "doc": data,
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
