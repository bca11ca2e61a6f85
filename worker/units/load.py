"""Find, parse, validate and fingerprint units and councils under some paths.

Everything a file can get wrong on its own (YAML, schema, id/field agreement, duplicate addresses)
is found here and reported as a :class:`Problem`; the relational checks run later, in SQL, on the
snapshot this module builds (:func:`snapshot_payload`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jsonschema

from worker import ROOT
from worker.units import canonical, fastschema, yaml12
from worker.units.model import Address, Council, Problem, Unit, Version, consistency_problems

SCHEMAS = ROOT / "ssot" / "schemas"
SUFFIXES = (".yaml", ".yml")


@cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def display_path(path: Path) -> str:
    """Paths relative to the working directory when below it (what CI annotations expect)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)


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
    problems: list[Problem] = field(default_factory=list)
    computed: dict[str, str] = field(default_factory=dict)  # address -> computed fingerprint
    files: int = 0
    seconds: float = 0.0

    def unit(self, address: str) -> Unit | None:
        return next((u for u in self.units if str(u.address) == address), None)


@cache
def fast_validator(kind: str):
    return fastschema.compile_schema(json.loads((SCHEMAS / f"{kind}.schema.json").read_text()))


def _schema_problems(kind: str, doc: yaml12.Document, file: str) -> list[Problem]:
    if fast_validator(kind)(doc.data):
        return []
    v = validator(kind)  # the messages come from jsonschema itself
    if v.is_valid(doc.data):  # pragma: no cover - the two disagree: trust jsonschema, it is the reference
        return []
    out = []
    for err in sorted(v.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(Problem(file, doc.line(*err.absolute_path), f"schema: {where}: {err.message}",
                           doc.data.get("id") if isinstance(doc.data.get("id"), str) else None))
    return out


def parse_file(path: Path) -> tuple[yaml12.Document | None, Problem | None]:
    try:
        return yaml12.load(path.read_bytes()), None
    except yaml12.YamlError as exc:
        return None, Problem(display_path(path), exc.line or 1, f"yaml: {exc}")


def load(paths: list[str | Path], *, validate: bool = True) -> Snapshot:
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
                problems.append(Problem(file, doc.line("id"), f"{ident} is also defined in {seen[ident]}", ident))
            if problems:
                snap.problems.extend(problems)
                continue
            seen[ident] = file
            snap.councils.append(Council(path, doc))
            continue
        problems = _schema_problems("unit", doc, file) if validate else []
        if not problems:
            problems = [Problem(file, doc.line(*where), f"address: {msg}", ident)
                        for where, msg in consistency_problems(doc.data)]
        if not problems and ident in seen:
            problems.append(Problem(file, doc.line("id"), f"{ident} is also defined in {seen[ident]}", ident))
        if problems:
            snap.problems.extend(problems)
            continue
        seen[ident] = file
        unit = Unit(path, doc, Address.parse(ident))
        try:
            snap.computed[ident] = canonical.fingerprint_of(doc.data)
        except canonical.CanonicalError as exc:
            snap.problems.append(Problem(file, 1, f"canonical: {exc}", ident))
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
        "council": data.get("council"), "file": display_path(unit.path), "line": doc.line("id"),
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


def problem_rows(problems: list[Problem]) -> list[dict]:
    return [{"file": p.file, "line": p.line, "message": p.message, "address": p.address} for p in problems]


def version_of(text: str) -> Version:
    return Version.parse(text)
