"""Getting raw errors into ops.record_error(s) from flags, files and streams.

The database validates, redacts and classifies; this module makes bytes safe to send and judges every
line alone, so one bad line never costs its neighbours:

* invalid UTF-8 becomes U+FFFD and a NUL byte (which PostgreSQL text cannot hold) becomes U+2400 "␀";
* a line that is not JSON, not an object, nested too deep, with a missing, blank, unknown or
  mistyped field is refused as ``Refused(line, field, code, reason)`` before anything is sent;
* a batch the database refuses is retried event by event so that only the bad ones are refused,
  each with the field the database named (SQLSTATE class OP, see ``sql/*_ingest*.sql``).

The rules are the database's (``ops.is_blank``, the 32-level context depth); they are applied here
too so that a refusal names its line without a round trip. An event may carry an idempotency key
(``event_key``, ``event_id`` or ``idempotency_key``, or the member named by ``key_field``): the
database stores a key once, so a re-run of a file with keys stores nothing twice.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import dict_row

from worker.errors import BadInput, translate
from worker.queries import q

FIELDS = ("source", "message", "phase", "top_frame", "run_id", "correlation_id", "origin", "context", "code_hint",
          "event_key")
KEY_FIELDS = ("event_key", "event_id", "idempotency_key")  # members read as the idempotency key, in this order
TEXT_FIELDS = ("phase", "top_frame", "origin", "code_hint")  # strings (or null)
ID_FIELDS = ("run_id", "correlation_id", "event_key")  # strings or numbers (or null)
MAX_CONTEXT_DEPTH = 32  # levels; the value itself is level 1 (ops.context_depth_exceeds, the Edge Function)
BATCH = 500

# The one rule for "empty" (ops.is_blank in SQL): a text with none but these characters is blank.
INVISIBLE = ("\u0001-\u0020\u007f-\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f"
             "\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb")
_VISIBLE = re.compile(f"[^{INVISIBLE}]")
BLANK_REASON = "it has no visible character"

_SURROGATE = re.compile("[\ud800-\udfff]")


def is_blank(value: str | None) -> bool:
    """True when ``value`` is None or has no visible character (the same set as SQL's ops.is_blank)."""
    return value is None or _VISIBLE.search(value) is None


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
    # Recursive, so only called on values whose depth was checked first.
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _depth(value, limit: int) -> int:
    """Nesting depth of a JSON value (the value itself is 1), iteratively; stops once past ``limit``."""
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


class Refusal(BadInput):
    """One event refused: ``field`` names the member (None for the whole line), ``code`` the kind."""

    def __init__(self, reason: str, field: str | None, code: str) -> None:
        super().__init__(reason)
        self.field = field
        self.code = code


@dataclass
class Refused:
    """A refused line (0 for an event from flags): ``{line, field, code, reason}`` in ``--json``."""

    line: int
    reason: str
    field: str | None = None
    code: str = "refused"


def _type_name(value) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null" if value is None else "a string")


def event(raw: dict, key_field: str | None = None) -> dict:
    """Normalise one event: known fields only, text made safe, context within the depth limit.

    ``key_field`` names a member to use as the idempotency key (otherwise the first of KEY_FIELDS
    present). Raises Refusal (a BadInput) naming the field."""
    raw = dict(raw)
    key_members = (key_field,) if key_field else KEY_FIELDS
    key = next((raw[k] for k in key_members if raw.get(k) is not None), None)
    for k in {*KEY_FIELDS, *key_members}:
        raw.pop(k, None)
    if key_field and key is None:
        raise Refusal(f"{key_field} is required (--key-field names it as the idempotency key)", key_field, "missing")
    unknown = sorted(set(raw) - set(FIELDS) - {"code"})
    if unknown:
        raise Refusal(f"unknown field(s): {', '.join(unknown)} (allowed: {', '.join(FIELDS + ('code',))}, "
                      f"or a key in {', '.join(KEY_FIELDS[1:])})", unknown[0][:100], "unknown_field")
    ev = {f: raw.get(f) for f in FIELDS}
    ev["event_key"] = key
    if ev["code_hint"] is None and raw.get("code") is not None:
        ev["code_hint"] = raw["code"]
    for name in ("source", "message"):
        value = ev[name]
        if value is None:
            raise Refusal(f"{name} is required (a non-empty string)", name, "missing")
        if not isinstance(value, str):
            raise Refusal(f"{name} must be a string, not {_type_name(value)}", name, "bad_type")
        if is_blank(value):
            raise Refusal(f"{name} is required ({BLANK_REASON})", name, "empty")
    for name in TEXT_FIELDS:
        if ev[name] is not None and not isinstance(ev[name], str):
            raise Refusal(f"{name} must be a string, not {_type_name(ev[name])}", name, "bad_type")
    for name in ID_FIELDS:
        value = ev[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
            raise Refusal(f"{name} must be a string or a number, not {_type_name(value)}", name, "bad_type")
        if value is not None and not isinstance(value, str):
            ev[name] = str(value)
    ctx = ev["context"]
    if ctx is not None and _depth(ctx, MAX_CONTEXT_DEPTH) > MAX_CONTEXT_DEPTH:
        raise Refusal(f"context is nested deeper than {MAX_CONTEXT_DEPTH} levels", "context", "too_deep")
    return _clean(ev)


def _dump(value) -> str:
    # Python's own encoder recurses; the depth checked in event() keeps this safe.
    return json.dumps(value, ensure_ascii=False)


def parse_lines(stream: Iterable[bytes], *, key_field: str | None = None,
                start_after: int = 0) -> Iterator[tuple[int, dict | Refused]]:
    """JSON lines (bytes) → (line number, event or Refused). Blank lines and lines up to
    ``start_after`` (a resumed run) are skipped."""
    for number, raw in enumerate(stream, start=1):
        if number <= start_after:
            continue
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, Refused(number, f"not valid JSON: {exc}", None, "invalid_json")
            continue
        except RecursionError:
            yield number, Refused(number, "JSON nested too deeply to parse (context may nest "
                                          f"{MAX_CONTEXT_DEPTH} levels)", None, "too_deep")
            continue
        if not isinstance(doc, dict):
            yield number, Refused(number, "each line must be a JSON object", None, "not_an_object")
            continue
        try:
            yield number, event(doc, key_field)
        except Refusal as exc:
            yield number, Refused(number, str(exc), exc.field, exc.code)


_SQLSTATE_CODES = {"OP001": "invalid", "OP002": "unknown_source", "OP006": "reserved_source"}


def _refused_by_db(number: int, exc: BadInput) -> Refused:
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    state = getattr(cause, "sqlstate", None) or ""
    code = _SQLSTATE_CODES.get(state, "bad_value" if state.startswith("22") else "refused")
    if state == "OP001" and diag is not None and (diag.message_detail or "") == BLANK_REASON:
        code = "empty"
    return Refused(number, str(exc), getattr(diag, "column_name", None), code)


def record_one(conn: psycopg.Connection, ev: dict) -> dict:
    """Store one event; returns {event_id, fingerprint, code, count, duplicate}. Raises BadInput."""
    params = dict(ev, context=None if ev["context"] is None else _dump(ev["context"]))
    params.setdefault("event_key", None)
    with translate(), conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(q("errors", "record_error"), params).fetchone()


@dataclass
class Summary:
    """What a run did: rows stored and skipped as duplicates, refusals, the last line whose fate is
    committed (every line up to it is stored, a duplicate or refused: a resumed run starts after it)."""

    lines: int = 0
    stored: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    last_committed_line: int = 0

    def as_json(self) -> dict:
        return {"lines": self.lines, "stored": len(self.stored), "duplicates": len(self.duplicates),
                "refused": len(self.refused),
                "refused_by_code": dict(sorted(Counter(r.code for r in self.refused).items())),
                "last_committed_line": self.last_committed_line}


def ingest(conn: psycopg.Connection, items: Iterable[tuple[int, dict | Refused]], *,
           progress: Callable[[Summary], None] | None = None, batch_size: int = BATCH,
           into: Summary | None = None) -> Summary:
    """Store events in batches of ``batch_size`` (one ops.record_errors statement, one transaction each);
    a batch the database refuses is retried one event at a time. ``progress`` is called after each
    committed batch. The summary (``into``, or a new one) is filled as it goes, so an interrupted run
    still says how far it got."""
    summary = into if into is not None else Summary()
    batch: list[tuple[int, dict]] = []
    last_seen = 0

    def keep(rows: list[dict]) -> None:
        for row in rows:
            (summary.duplicates if row.get("duplicate") else summary.stored).append(row)

    def flush() -> None:
        if batch:
            try:
                with translate(), conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                    rows = cur.execute(q("errors", "record_errors"),
                                       {"events": _dump([ev for _, ev in batch])}).fetchall()
                keep(rows)
            except BadInput:
                for number, ev in batch:
                    try:
                        keep([record_one(conn, ev)])
                    except BadInput as exc:
                        summary.refused.append(_refused_by_db(number, exc))
            batch.clear()
        summary.last_committed_line = last_seen
        if progress:
            progress(summary)

    for number, item in items:
        summary.lines += 1
        last_seen = number
        if isinstance(item, Refused):
            summary.refused.append(item)
            if not batch:
                summary.last_committed_line = number
            continue
        batch.append((number, item))
        if len(batch) >= batch_size:
            flush()
    flush()
    summary.refused.sort(key=lambda r: r.line)
    return summary


def record_many(conn: psycopg.Connection, numbered: Iterable[tuple[int, dict]]) -> tuple[list[dict], list[Refused]]:
    """Store events in batches; a refused batch is retried one by one. Returns (stored, refused);
    duplicates of stored keys are in neither."""
    summary = ingest(conn, numbered)
    return summary.stored, summary.refused
