"""`stratt ci`: parse in Python, judge in SQL, return a report.

Python finds and parses the files, fingerprints them and validates them against the JSON Schemas;
the snapshot goes to the database in one call (``ops.begin_unit_ci``) and a second call
(``ops.run_unit_checks``) runs the nine checks, records the run and returns its events.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from worker import __version__
from worker.queries import q
from worker.units import load, yaml12

EXIT_OK, EXIT_BLOCKING, EXIT_TAMPERED, EXIT_BROKEN, EXIT_INFRA = 0, 1, 2, 3, 4
EXIT_USAGE, EXIT_INTERNAL = 64, 70
_FINDING = re.compile(r"^[0-9a-f]{64}$")
ALIASES = ("FM-01", "FM-02", "FM-03", "FM-04", "FM-05", "FM-06", "FM-07", "FM-09")


class UsageError(Exception):
    """Bad invocation (exit 64): no units found, unknown council, missing path, bad waivers file."""


@dataclass
class Report:
    run_id: int | None
    scope: str
    council: str | None
    paths: list[str]
    exit_code: int
    status: str
    counts: dict
    checks: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    duration_ms: int = 0
    error: str | None = None

    def as_dict(self) -> dict:
        return {
            "schema": "stratt-report/v1", "tool": {"name": "stratt", "version": __version__},
            "run_id": self.run_id, "scope": self.scope, "council": self.council, "paths": self.paths,
            "exit_code": self.exit_code, "status": self.status, "duration_ms": self.duration_ms,
            "counts": self.counts, "checks": self.checks, "findings": self.findings, "error": self.error,
        }


def scope_of(council: str | None, paths: list[str]) -> str:
    return "unit_ci|" + (council or "*") + "|" + ",".join(sorted(load.display_path(Path(p)) for p in paths))


def load_waivers(path: str | None) -> list[dict]:
    """The waivers file as ops.run_unit_checks takes it: each waiver with the file and line it is written on."""
    if not path:
        return []
    try:
        doc = yaml12.load(Path(path).read_bytes())
    except (OSError, yaml12.YamlError) as exc:
        raise UsageError(f"waivers file {path}: {exc}") from exc
    items = doc.data.get("waivers")
    if not isinstance(items, list) or not all(isinstance(w, dict) for w in items):
        raise UsageError(f"waivers file {path}: expected `waivers: [{{fingerprint, reason, owner, expires}}]`")
    file = load.display_path(Path(path))
    out = []
    for i, w in enumerate(items):
        line = doc.line("waivers", i)
        missing = [k for k in ("fingerprint", "reason", "owner", "expires") if w.get(k) in (None, "")]
        if missing:
            raise UsageError(f"{file}:{line}: a waiver lacks {', '.join(missing)}")
        if not _FINDING.match(str(w["fingerprint"])):
            raise UsageError(f"{file}:{line}: fingerprint must be the 64 hex digits a report prints after `finding:` "
                             "(quoted, so YAML keeps it a string)")
        try:
            dt.date.fromisoformat(str(w["expires"]))
        except ValueError:
            raise UsageError(f"{file}:{line}: expires must be a date, YYYY-MM-DD") from None
        out.append({**{k: str(w[k]) for k in ("fingerprint", "reason", "owner", "expires")}, "file": file, "line": line})
    return out


# What the checks read of a baseline's document (ops_private.unit_baseline's base_doc): FM-04 and FM-05 its
# composition's steps, FM-06 its contract. Nothing else of it is read, so nothing else is sent.
BASELINE_KEYS = load.BASELINE_KEYS


def baseline_rows(directory: str | None, loader: load.Loader | None = None) -> list:
    """The units of ``directory`` as ``--against`` baselines: address, name, version parts and the parts of
    the document the comparison reads (:data:`BASELINE_KEYS`), each as JSON (orjson.Fragment). The same units
    as before: the files are loaded, validated and fingerprinted as the tree under test is (a file that fails
    is not a baseline)."""
    if not directory:
        return []
    if loader is None:
        with load.Loader(workers=1) as own:
            return own.submit([directory], form="baseline")().rows
    return loader.submit([directory], form="baseline")().rows


def _payload(value) -> Jsonb:
    return Jsonb(value, dumps=load.dumps)


def _record_internal_error(conn: psycopg.Connection, run_id: int, exc: BaseException) -> None:
    """End a run that broke after it began as an error (exit 70), in a transaction of its own.

    The checks' transaction is rolled back (no half-written events); the run row, committed when the run
    began, is closed with the reason. If even that fails (the database is gone), the original error wins.
    """
    first_line = (str(exc).strip().splitlines() or [""])[0]
    reason = f"internal error: {type(exc).__name__}: {first_line}"
    try:
        conn.rollback()
        conn.execute(q("units", "abort_unit_run"), {"run_id": run_id, "exit_code": EXIT_INTERNAL, "reason": reason})
        conn.commit()
    except psycopg.Error as nested:
        exc.add_note(f"stratt: could not record run {run_id} as failed: {nested}")
    else:
        exc.add_note(f"stratt: run {run_id} recorded as error (exit {EXIT_INTERNAL})")


def resolve_council(name: str, ids: list[str]) -> tuple[str, list[str] | None]:
    """``name`` as a council id: itself when defined, else the one id whose last path segment is ``name``
    (the bare slug: ``pathfinder`` for ``council/pathfinder``). Returns (id, None), or (name, [matches])
    when the slug names more than one council; an unknown name comes back unchanged (reported by the caller)."""
    if name in ids:
        return name, None
    matches = sorted(i for i in ids if i.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1] and i.endswith("/" + name))
    if len(matches) == 1:
        return matches[0], None
    return name, (matches or None)


def run_ci(conn: psycopg.Connection, paths: list[str], *, council: str | None = None, against: str | None = None,
           waivers: list[dict] | None = None, workers: int | None = None) -> Report:
    """Judge the units under ``paths`` (and ``against``'s as baselines). ``workers``: processes that load the
    files of a large tree (:class:`load.Loader`; None: one per CPU, 1: this process only). Raises UsageError
    for a path that does not exist."""
    started = time.perf_counter()
    with load.collector_paused(), load.Loader(workers) as loader:  # nothing to collect until the rows are sent
        try:
            pending = loader.submit(paths, form="row")
            pending_base = loader.submit([against], form="baseline") if against else None
            snap = pending()
            baselines = pending_base().rows if pending_base else []
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from exc
        ambiguous = None
        if council:
            council, ambiguous = resolve_council(council, [c.id for c in snap.councils])
        scope = scope_of(council, paths)
        args = {
            "kind": "unit_ci", "scope": scope, "council": council, "paths": [str(p) for p in paths],
            "units": _payload(snap.rows), "councils": _payload(load.council_rows(snap.councils)),
            "baselines": _payload(baselines), "problems": _payload(load.problem_rows(snap.problems)),
            "parse_ms": int(snap.seconds * 1000),
        }
    with conn.cursor(row_factory=dict_row) as cur:
        run_id = cur.execute(q("units", "begin_unit_ci"), args).fetchone()["begin_unit_ci"]
        conn.commit()  # the run row exists from here on, whatever happens next
        error = None
        if not snap.unit_count and not snap.problems:
            error = f"found no units under {', '.join(map(str, paths))}"
        elif ambiguous:
            error = f"council {council} is ambiguous: it matches {', '.join(ambiguous)} (name one of them)"
        elif council and council not in {c.id for c in snap.councils}:
            known = ", ".join(sorted(c.id for c in snap.councils)) or "none"
            error = f"council {council} is not defined under the paths (found: {known})"
        if error:
            cur.execute(q("units", "abort_unit_run"), {"run_id": run_id, "exit_code": EXIT_USAGE, "reason": error})
            conn.commit()
            return Report(run_id, scope, council, args["paths"], EXIT_USAGE, "error",
                          {"files": snap.files, "units": 0, "councils": len(snap.councils)}, error=error)
        try:
            events = cur.execute(q("units", "run_unit_checks"),
                                 {"run_id": run_id, "waivers": Jsonb(waivers or [])}).fetchall()
            run = cur.execute(q("units", "maintenance_run"), {"run_id": run_id}).fetchone()
            conn.commit()
        except BaseException as exc:  # also an interrupt: the run must not stay `running`
            _record_internal_error(conn, run_id, exc)
            raise
    checks = [{"alias": e["check_alias"], "code": e["code"], "outcome": e["outcome"], "severity": e["severity"],
               "reason": e["message"]} for e in events if e["kind"] == "check"]
    findings = [{"alias": e["check_alias"], "code": e["code"], "severity": e["severity"], "outcome": e["outcome"],
                 "unit": e["unit_address"], "file": e["file"], "line": e["line"], "message": e["message"],
                 "fix": e["fix"], "runbook": e["runbook"], "fingerprint": e["finding_fingerprint"],
                 "details": e["details"]} for e in events if e["kind"] == "finding"]
    counts = {"files": snap.files, "units": snap.unit_count, "councils": len(snap.councils),
              "invalid": len(snap.problems), "findings": run["findings_count"], "critical": run["critical_count"],
              "blocking": run["blocking_count"], "warnings": run["warning_count"],
              "waived": sum(f["outcome"] == "waived" for f in findings)}
    return Report(run_id, scope, council, args["paths"], run["exit_code"], run["status"], counts, checks, findings,
                  duration_ms=int((time.perf_counter() - started) * 1000))
