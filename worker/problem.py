"""Problem Details (RFC 9457): build, parse, validate and record ``application/problem+json``.

The contract is ``ssot/schemas/problem.schema.json``; the settings are ``ssot/problem.yaml``.

* Every HTTP failure is a taxonomy failure: ``type`` ``urn:ipai:failure:<CODE>``, the failure mode's
  ``title`` and ``retryable``, ``ipai.code`` the code, and ``status`` = the failure mode's
  ``http_status`` or, where that is null, ``default_status`` (500). Request-level problems have codes
  too (HTTP.BAD_REQUEST, HTTP.METHOD_NOT_ALLOWED, HTTP.PAYLOAD_TOO_LARGE, HTTP.UNSUPPORTED_MEDIA_TYPE,
  DB.UNAVAILABLE, DB.LOGIN_REJECTED).
* ``detail``, ``where``, ``correlation_id`` and ``run_id`` are redacted with the SSOT redaction rules
  before they leave the process.

Parsing never raises: a foreign or malformed document gives a :class:`ProblemDocument` with what could be
read (RFC 9457: unknown members are ignored, members of the wrong type are ignored, a missing
``type`` means ``about:blank``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from worker import ROOT
from worker.redaction import redact
from worker.taxonomy import FailureMode, config, status_for, taxonomy

SCHEMA = Path("ssot/schemas/problem.schema.json")
MEDIA_TYPE = "application/problem+json"
SCHEMA_MEMBER = "ipai"  # the member's name as written in the schema file
EXTENSION_FIELDS = ("code", "retryable", "where", "correlation_id", "run_id")
MAX_ID = 256  # where, correlation_id, run_id (the database keeps 256 characters too)
MAX_DETAIL = 4096


@cache
def schema(member: str | None = None, root: Path = ROOT) -> dict:
    """The envelope schema, with the extension member renamed when the SSOT configures another name."""
    member = member or config(root).extension_member
    text = (root / SCHEMA).read_text(encoding="utf-8")
    doc = json.loads(text)
    if member != SCHEMA_MEMBER:
        env = doc["$defs"]["envelope"]
        env["required"] = [member if r == SCHEMA_MEMBER else r for r in env["required"]]
        env["properties"][member] = env["properties"].pop(SCHEMA_MEMBER)
    return doc


# -- building -----------------------------------------------------------------------------------------

def _clip(value: Any, limit: int = MAX_ID) -> str | None:
    """Storable (NUL becomes U+2400), redacted, then cut to the limit (as the database does)."""
    if value is None:
        return None
    return redact(str(value).replace("\x00", "\u2400"))[:limit]


def _extension(code, retryable, where, correlation_id, run_id) -> dict:
    return {"code": code, "retryable": bool(retryable), "where": _clip(where),
            "correlation_id": _clip(correlation_id), "run_id": _clip(run_id)}


def build(code: str, detail: str, *, instance: str = "about:blank", where: str | None = None,
          correlation_id: str | None = None, run_id: str | None = None,
          modes: Mapping[str, FailureMode] | None = None, extensions: Mapping[str, Any] | None = None) -> dict:
    """The envelope for one occurrence of a taxonomy failure. Raises KeyError for an unknown code."""
    mode = (modes if modes is not None else taxonomy())[code]
    cfg = config()
    doc = dict(extensions or {})
    doc.update({"type": cfg.type_prefix + mode.code, "title": mode.title, "status": status_for(mode),
                "detail": _clip(detail, MAX_DETAIL) or "", "instance": instance or "about:blank",
                cfg.extension_member: _extension(mode.code, mode.retryable, where, correlation_id, run_id)})
    return doc


def dumps(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


# -- parsing ------------------------------------------------------------------------------------------

@dataclass
class ProblemDocument:
    """What a received document says, read leniently. Missing or ill-typed members are None."""

    type: str = "about:blank"
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    code: str | None = None
    retryable: bool | None = None
    where: str | None = None
    correlation_id: str | None = None
    run_id: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)  # other top-level members, unchanged
    valid_json: bool = True

    @property
    def summary(self) -> str:
        """One line for logs and for ops.record_error's message."""
        parts = [p for p in (self.title, self.detail) if p]
        if len(parts) == 2 and parts[0] == parts[1]:
            parts = parts[:1]
        return ": ".join(parts) or self.type


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def parse(document: bytes | str | Mapping[str, Any] | Any, *, member: str | None = None) -> ProblemDocument:
    """Read a problem document from bytes, text or a parsed value. Never raises."""
    member = member or config().extension_member
    doc: Any = document
    try:
        if isinstance(document, (bytes, bytearray)):
            document = bytes(document).decode("utf-8", errors="replace")
        if isinstance(document, str):
            doc = json.loads(document)
    except (ValueError, RecursionError):
        return ProblemDocument(valid_json=False)
    if not isinstance(doc, Mapping):
        return ProblemDocument()
    status = doc.get("status")
    # RFC 9457 3.1: a member whose value has the wrong type is ignored; bool is not an integer here.
    status = status if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599 else None
    p = ProblemDocument(type=_str(doc.get("type")) or "about:blank", title=_str(doc.get("title")), status=status,
                detail=_str(doc.get("detail")), instance=_str(doc.get("instance")))
    ext = doc.get(member)
    if isinstance(ext, Mapping):
        p.code = _str(ext.get("code"))
        p.retryable = ext.get("retryable") if isinstance(ext.get("retryable"), bool) else None
        p.where = _str(ext.get("where"))
        p.correlation_id = _str(ext.get("correlation_id"))
        p.run_id = _str(ext.get("run_id"))
    if p.code is None and p.type.startswith(config().type_prefix):
        p.code = p.type[len(config().type_prefix):] or None
    p.extensions = {k: v for k, v in doc.items()
                    if k not in ("type", "title", "status", "detail", "instance", member)}
    return p


# -- validating ---------------------------------------------------------------------------------------

@cache
def format_checker() -> jsonschema.FormatChecker:
    """The schema's formats, checked. jsonschema skips a format it has no checker for, so refuse to run
    without the one the schema uses (uri-reference needs rfc3986-validator: jsonschema[format-nongpl])."""
    checker = jsonschema.FormatChecker()
    if "uri-reference" not in checker.checkers:
        raise RuntimeError("checking format uri-reference needs jsonschema[format-nongpl] "
                           "(pip install 'jsonschema[format-nongpl]')")
    return checker


def validate(doc: Any, *, modes: Mapping[str, FailureMode] | None = None, member: str | None = None) -> list[str]:
    """Everything wrong with an envelope we emit (empty when valid): the schema, then the rules a schema
    cannot say (type names the code; title, status and retryable are the failure mode's)."""
    member = member or config().extension_member
    validator = jsonschema.Draft202012Validator(schema(member), format_checker=format_checker())
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
              for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        return errors
    ext = doc[member]
    code = doc["type"][len(config().type_prefix):]
    if ext["code"] != code:
        errors.append(f"type names {code} but {member}.code is {ext['code']}")
    mode = (modes if modes is not None else taxonomy()).get(code)
    if mode is None:
        errors.append(f"{code} is not in the taxonomy")
    else:
        if doc["title"] != mode.title:
            errors.append(f"title must be the failure mode's title {mode.title!r}")
        if doc["status"] != status_for(mode):
            errors.append(f"status must be {status_for(mode)} for {code}")
        if ext["retryable"] != mode.retryable:
            errors.append(f"{member}.retryable must be {mode.retryable} for {code}")
    return errors


def is_valid(doc: Any, **kwargs) -> bool:
    return not validate(doc, **kwargs)


# -- recording ----------------------------------------------------------------------------------------

def record(conn, document: bytes | str | Mapping[str, Any], *, source: str, phase: str | None = None) -> dict:
    """Store a received problem document through ops.record_error.

    ``ipai.code`` goes in as ``code_hint``: the database keeps it when the taxonomy has it and otherwise
    classifies the message (keeping the claim as ``context._claimed_code``). The message is the title
    and detail; the other members go into ``context.problem``. Returns (event_id, fingerprint, code,
    count). Raises worker.errors.BadInput for an unknown source or an empty document.
    """
    from worker import ingest  # the ingest helpers make text safe for PostgreSQL (NUL, depth)

    p = parse(document)
    context = {"type": p.type, "title": p.title, "status": p.status, "instance": p.instance,
               "retryable": p.retryable, "extensions": p.extensions}
    raw = {"source": source, "phase": phase, "message": p.summary, "run_id": p.run_id,
           "correlation_id": p.correlation_id, "origin": p.where, "code_hint": p.code,
           "context": {"problem": {k: v for k, v in context.items() if v not in (None, {})}}}
    return ingest.record_one(conn, ingest.event(raw))
