"""Getting raw errors into ops.record_error(s) from flags, files and streams.

The database validates, redacts and classifies; this module only makes bytes safe to send:
invalid UTF-8 becomes U+FFFD, a NUL byte (which PostgreSQL text cannot hold) becomes U+2400 "␀",
and a line that is not a JSON object is refused with its line number. Nothing accepted is dropped:
a batch that the database refuses is retried event by event so that only the bad ones are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from worker.errors import BadInput, translate
from worker.queries import q

FIELDS = ("source", "message", "phase", "top_frame", "run_id", "correlation_id", "origin", "context", "code_hint")
MAX_CONTEXT_DEPTH = 32
BATCH = 500


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Text PostgreSQL can store: NUL becomes ␀; bytes that were not UTF-8 become U+FFFD, whether
    they came from the command line (Python keeps them as surrogate escapes) or from a JSON
    ``\\ud800`` escape (a lone surrogate)."""
    if _SURROGATE.search(value):
        try:
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            pass
        value = _SURROGATE.sub("\ufffd", value)
    return value.replace("\x00", "\u2400")


def _clean(value):
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _depth(value, limit: int) -> int:
    """Nesting depth of a JSON value, iteratively (deep documents must not blow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def event(raw: dict) -> dict:
    """Normalise one event: known fields only, text made safe, context bounded. Raises BadInput."""
    unknown = sorted(set(raw) - set(FIELDS) - {"code"})
    if unknown:
        raise BadInput(f"unknown field(s): {', '.join(unknown)} (allowed: {', '.join(FIELDS)})")
    ev = {f: raw.get(f) for f in FIELDS}
    if ev["code_hint"] is None and raw.get("code") is not None:
        ev["code_hint"] = raw["code"]
    for field in ("source", "message"):
        if not isinstance(ev[field], str) or not ev[field].strip():
            raise BadInput(f"{field} is required (a non-empty string)")
    for field in FIELDS:
        if field != "context" and ev[field] is not None and not isinstance(ev[field], str):
            ev[field] = json.dumps(ev[field]) if not isinstance(ev[field], (int, float)) else str(ev[field])
    ev = _clean(ev)
    ctx = ev["context"]
    if ctx is not None and _depth(ctx, MAX_CONTEXT_DEPTH) > MAX_CONTEXT_DEPTH:
        ev["context"] = {"_truncated": True, "_reason": f"nested deeper than {MAX_CONTEXT_DEPTH} levels"}
    return ev


def _dump(value) -> str:
    # Python's own encoder recurses; bounded depth above keeps this safe.
    return json.dumps(value, ensure_ascii=False)


@dataclass
class Refused:
    line: int
    reason: str


def parse_lines(stream: Iterable[bytes]) -> Iterator[tuple[int, dict | Refused]]:
    """JSON lines (bytes) → (line number, event or Refused). Blank lines are skipped."""
    for number, raw in enumerate(stream, start=1):
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, Refused(number, f"not valid JSON: {exc}")
            continue
        except RecursionError:
            yield number, Refused(number, f"JSON nested too deeply to parse (context may nest {MAX_CONTEXT_DEPTH} levels)")
            continue
        if not isinstance(doc, dict):
            yield number, Refused(number, "each line must be a JSON object")
            continue
        try:
            yield number, event(doc)
        except BadInput as exc:
            yield number, Refused(number, str(exc))


def record_one(conn: psycopg.Connection, ev: dict) -> dict:
    params = dict(ev, context=None if ev["context"] is None else _dump(ev["context"]))
    with translate(), conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(q("errors", "record_error"), params).fetchone()


def record_many(conn: psycopg.Connection, numbered: Iterable[tuple[int, dict]]) -> tuple[list[dict], list[Refused]]:
    """Store events in batches; a refused batch is retried one by one. Returns (stored, refused)."""
    stored: list[dict] = []
    refused: list[Refused] = []
    batch: list[tuple[int, dict]] = []

    def flush():
        if not batch:
            return
        try:
            with translate(), conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(q("errors", "record_errors"),
                                   {"events": _dump([ev for _, ev in batch])}).fetchall()
            stored.extend(rows)
        except BadInput:
            for number, ev in batch:
                try:
                    stored.append(record_one(conn, ev))
                except BadInput as exc:
                    refused.append(Refused(number, str(exc)))
        batch.clear()

    for item in numbered:
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
    flush()
    return stored, refused
