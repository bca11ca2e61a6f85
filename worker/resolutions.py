"""Resolution records: `docs/resolutions/YYYY/MM/<date>_<CODE>_<slug>.md`, written from the database.

:func:`resolve` is `ops resolve`: it gathers the evidence of one error (counts, first/last seen, latest
events, run ids, escalations, FixBot runs, status history), renders ``docs/resolutions/_template.md``
(Jinja2) with every producer's and person's text redacted (``ops.redact``) and made inert Markdown
(:mod:`worker.render`), writes the file without ever replacing one (a second record of the same day,
code and summary gets ``-2``, ``-3``, …), and records its path and SHA-256 on the error through
``ops.resolve_error`` in the same transaction: if the database refuses, the file is removed again.

:func:`auto_resolve` is the worker's FixBot auto-resolve: errors whose FixBot pull request merged and
that stayed quiet for ``auto_resolve.quiet_period`` of ``ssot/agents/fixbot_policy.yaml`` are resolved
with a generated record (``resolved_by: fixbot``, the run and pull request cited).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import jinja2
from psycopg.rows import dict_row

from worker import ROOT, timeflags
from worker.output import rfc3339
from worker.queries import execute
from worker.render import github_code_block, github_markdown_text

TEMPLATE = Path("docs/resolutions/_template.md")
RECORDS = Path("docs/resolutions")
EVENTS_IN_RECORD = 5
RUN_IDS_IN_RECORD = 20
DEFAULT_QUIET_PERIOD = "24h"


def slug(text: str, limit: int = 48) -> str:
    """A file-name slug of ``text``: ASCII letters and digits (accents folded), runs of anything else as one
    ``-``, lower case, at most ``limit`` characters; ``resolution`` when nothing is left."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:limit].rstrip("-")
    return out or "resolution"


def _environment(root: Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(root), str(ROOT)]), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    env.filters["md"] = lambda v: "" if v is None else github_markdown_text(v)
    env.filters["code"] = lambda v: github_code_block("" if v is None else v, limit=2000)
    env.filters["yaml"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
    env.filters["ts"] = lambda v: "" if v is None else rfc3339(v, timespec="seconds")
    return env


def record_context(cur, fingerprint: str, *, summary: str, cause: str | None, fix: str | None,
                   prevention: str | None, pr: str | None, resolved_by: str, now: datetime) -> dict:
    """What the template sees: ``group`` (the ops.error_groups row), ``events`` (latest occurrences),
    ``run_ids``, ``escalations``, ``agent_runs``, ``history`` (status changes), ``timeline`` (the three merged in
    time order: {at, kind escalation|agent_run|status, row}), the person's texts
    (redacted: ``summary``, ``cause``, ``fix``, ``prevention``, ``pr``), ``resolved_by``, ``date``
    (YYYY-MM-DD, UTC) and ``now``."""
    fp = {"fingerprint": fingerprint}
    group = execute(cur, "oncall", "group", fp).fetchone()

    def redact(text):
        return None if text is None else execute(cur, "oncall", "redact", {"text": text}).fetchone()["text"]

    escalations = execute(cur, "oncall", "escalations", fp).fetchall()
    runs = execute(cur, "oncall", "agent_runs", fp).fetchall()
    history = execute(cur, "oncall", "history", fp).fetchall()
    # One timeline, in time order: escalations, FixBot runs and status changes (regressions included).
    timeline = sorted([{"at": r["created_at"], "kind": "escalation", "row": r} for r in escalations]
                      + [{"at": r["created_at"], "kind": "agent_run", "row": r} for r in runs]
                      + [{"at": r["changed_at"], "kind": "status", "row": r} for r in history], key=lambda t: t["at"])
    return {
        "group": group,
        "events": execute(cur, "oncall", "recent_events", {**fp, "limit": EVENTS_IN_RECORD}).fetchall(),
        "run_ids": execute(cur, "oncall", "run_ids", {**fp, "limit": RUN_IDS_IN_RECORD}).fetchall(),
        "escalations": escalations, "agent_runs": runs, "history": history, "timeline": timeline,
        "summary": redact(summary), "cause": redact(cause), "fix": redact(fix), "prevention": redact(prevention),
        "pr": redact(pr), "resolved_by": redact(resolved_by), "date": now.date().isoformat(), "now": now,
    }


def render(context: dict, root: Path) -> str:
    """The record's Markdown: ``docs/resolutions/_template.md`` of ``root`` (else the package's own)."""
    return _environment(root).get_template(TEMPLATE.as_posix()).render(**context)


def _create(root: Path, code: str, summary: str, day: str, content: bytes) -> Path:
    """Write ``content`` to a new record file and return its path relative to ``root``. Never replaces a file:
    each candidate name is created exclusively (O_EXCL), the next suffix tried when it exists."""
    folder = root / RECORDS / day[:4] / day[5:7]
    folder.mkdir(parents=True, exist_ok=True)
    safe_code = re.sub(r"[^A-Za-z0-9._-]", "_", code).lstrip(".") or "UNKNOWN"  # taxonomy codes already are
    base = f"{day}_{safe_code}_{slug(summary)}"
    for n in range(1, 1000):
        path = folder / (f"{base}.md" if n == 1 else f"{base}-{n}.md")
        try:
            with open(path, "xb") as f:
                f.write(content)
            return path.relative_to(root)
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: 999 records named {base} already")


def write_and_record(conn, root: Path, fingerprint: str, *, summary: str, cause=None, fix=None, prevention=None,
                     pr=None, resolved_by: str, record_query: str, record_params: dict) -> dict:
    """Render, write and record one resolution in one transaction of ``conn``; ``record_query`` (a named query
    of worker/queries/oncall.sql) marks the error resolved with the path and SHA-256. On any failure the
    file is removed and nothing changes. Returns {fingerprint, path, sha256, row}."""
    now = datetime.now(timezone.utc)
    path = None
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            context = record_context(cur, fingerprint, summary=summary, cause=cause, fix=fix, prevention=prevention,
                                     pr=pr, resolved_by=resolved_by, now=now)
            content = render(context, root).encode("utf-8")
            digest = hashlib.sha256(content).hexdigest()
            path = _create(root, context["group"]["code"], context["summary"], context["date"], content)  # redacted
            row = execute(cur, "oncall", record_query, {
                **record_params, "fingerprint": fingerprint, "resolution_ref": path.as_posix(),
                "resolution_sha256": digest}).fetchone()
    except BaseException:
        if path is not None:  # refused or not committed: no record without its row
            (root / path).unlink(missing_ok=True)
        raise
    return {"fingerprint": fingerprint, "path": path.as_posix(), "sha256": digest, "row": row}


def resolve(conn, root: Path, fingerprint: str, *, summary: str, cause=None, fix=None, prevention=None, pr=None,
            resolved_by: str) -> dict:
    """`ops resolve`: the record written under ``root`` and the error resolved (ops.resolve_error)."""
    return write_and_record(conn, root, fingerprint, summary=summary, cause=cause, fix=fix, prevention=prevention,
                            pr=pr, resolved_by=resolved_by, record_query="resolve_error",
                            record_params={"resolved_by": resolved_by})


# -- FixBot auto-resolve (the worker) -----------------------------------------------------------------

def quiet_period_seconds(policy: dict) -> int:
    """``auto_resolve.quiet_period`` of the FixBot policy in seconds (default 24h)."""
    value = ((policy.get("auto_resolve") or {}).get("quiet_period")) or DEFAULT_QUIET_PERIOD
    return timeflags.duration_seconds(value, "ssot/agents/fixbot_policy.yaml: auto_resolve.quiet_period")


def auto_resolve(conn, root: Path, quiet_seconds: int) -> list[dict]:
    """Resolve every FixBot candidate (ops.fixbot_resolution_candidates) with a generated record under ``root``.
    Each is its own transaction; one that stopped being a candidate meanwhile (OPD04) is skipped. Returns the
    records written ({fingerprint, path, sha256, row})."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        candidates = execute(cur, "oncall", "fixbot_candidates", {"quiet_seconds": quiet_seconds}).fetchall()
    written = []
    for c in candidates:
        merged = rfc3339(c["merged_at"], timespec="seconds")
        try:
            written.append(write_and_record(
                conn, root, c["fingerprint"],
                summary=f"fixed by FixBot run {c['run_id']}",
                fix=f"FixBot run {c['run_id']} opened {c['pr_url'] or 'a pull request'}, merged {merged}.",
                cause="See the FixBot run's evidence and the pull request.",
                prevention=f"No occurrence for {quiet_seconds // 3600 if quiet_seconds >= 3600 else quiet_seconds} "
                           f"{'hours' if quiet_seconds >= 3600 else 'seconds'} after the merge (the policy's quiet period).",
                pr=c["pr_url"], resolved_by="fixbot", record_query="resolve_error_by_fixbot",
                record_params={"run_id": c["run_id"], "quiet_seconds": quiet_seconds}))
        except Exception as exc:  # noqa: BLE001 - one candidate's failure must not stop the others
            if getattr(exc, "sqlstate", None) != "OPD04":
                raise
    return written


AUTO_RESOLVE_EVERY = 60.0  # seconds between two auto-resolve passes of one worker


def worker_root() -> Path | None:
    """Where the worker writes FixBot's records: ``$OPS_RESOLUTIONS_ROOT``, else the working directory, when it
    holds ``docs/resolutions`` (a checkout); None (auto-resolve off) otherwise."""
    root = Path(os.environ.get("OPS_RESOLUTIONS_ROOT") or os.getcwd())
    return root if (root / RECORDS).is_dir() else None
