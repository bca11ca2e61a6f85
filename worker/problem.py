"""Problem Details (RFC 9457): build, parse, validate and record ``application/problem+json``.

The contract is ``ssot/schemas/problem.schema.json``; the settings are ``ssot/problem.yaml``.

* A taxonomy failure has ``type`` ``urn:ipai:failure:<CODE>``, the failure mode's ``title`` and
  ``retryable``, and ``status`` = the failure mode's ``http_status`` or, where that is null,
  ``default_status`` (500).
* A generic request problem that is not a failure mode (bad JSON, wrong method, too large, ...) has
  ``type`` ``urn:ipai:problem:<name>`` with a fixed title and status, and ``ipai.code`` null. We do not
  invent taxonomy codes for HTTP plumbing.
* ``detail`` is redacted with the SSOT redaction rules before it leaves the process.

Parsing never raises: a foreign or malformed document gives a :class:`Problem` with what could be
read (RFC 9457: unknown members are ignored, members of the wrong type are ignored, a missing
``type`` means ``about:blank``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from worker import ROOT, ssot

CONFIG = Path("ssot/problem.yaml")
SCHEMA = Path("ssot/schemas/problem.schema.json")
MEDIA_TYPE = "application/problem+json"
SCHEMA_MEMBER = "ipai"  # the member's name as written in the schema file
EXTENSION_FIELDS = ("code", "retryable", "where", "correlation_id", "run_id")
MAX_ID = 256  # where, correlation_id, run_id (the database keeps 256 characters too)
MAX_DETAIL = 4096


@dataclass(frozen=True)
class Config:
    extension_member: str = "ipai"
    type_prefix: str = "urn:ipai:failure:"
    generic_type_prefix: str = "urn:ipai:problem:"
    default_status: int = 500
    generic: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class FailureMode:
    code: str
    title: str
    http_status: int | None
    retryable: bool


@cache
def config(root: Path = ROOT) -> Config:
    doc = ssot.load_yaml(CONFIG, root)
    return Config(extension_member=str(doc.get("extension_member") or "ipai"),
                  type_prefix=str(doc.get("type_prefix") or "urn:ipai:failure:"),
                  generic_type_prefix=str(doc.get("generic_type_prefix") or "urn:ipai:problem:"),
                  default_status=int(doc.get("default_status") or 500),
                  generic={str(k): dict(v) for k, v in (doc.get("generic") or {}).items()})


@cache
def taxonomy(root: Path = ROOT) -> dict[str, FailureMode]:
    """The failure modes from the YAML (the database copy is ``ops.failure_modes``)."""
    doc = ssot.load_yaml(ssot.TAXONOMY, root)
    return {m["code"]: FailureMode(m["code"], m["title"], m.get("http_status"), bool(m.get("retryable")))
            for m in doc["failure_modes"]}


def taxonomy_from_db(conn) -> dict[str, FailureMode]:
    """The same, read from the synced copy in the database."""
    rows = conn.execute("SELECT code, title, http_status, retryable FROM ops.failure_modes").fetchall()
    return {r[0]: FailureMode(r[0], r[1], r[2], bool(r[3])) for r in rows}


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
        for branch in ("then", "else"):
            props = env[branch]["properties"]
            props[member] = props.pop(SCHEMA_MEMBER)
    return doc


# -- redaction ----------------------------------------------------------------------------------------

@cache
def _redaction_rules(root: Path = ROOT) -> list[tuple[re.Pattern, str]]:
    """ssot/errors/redaction.yaml in Python syntax: PostgreSQL's [:space:] class becomes \\s."""
    rules = []
    for rule in ssot.load_yaml(ssot.REDACTION, root).get("rules") or []:
        pattern = rule["pattern"].replace("[:space:]", r"\s")
        flags = re.IGNORECASE if "i" in str(rule.get("flags", "g")) else 0
        rules.append((re.compile(pattern, flags), rule["replacement"]))
    return rules


def redact(text: str) -> str:
    """Apply the SSOT redaction rules (the same ones ops.redact() applies in the database)."""
    for pattern, replacement in _redaction_rules():
        text = pattern.sub(replacement, text)
    return text


# -- building -----------------------------------------------------------------------------------------

def _clip(value: Any, limit: int = MAX_ID) -> str | None:
    if value is None:
        return None
    return redact(str(value).replace("\x00", "\u2400"))[:limit]


def _extension(code, retryable, where, correlation_id, run_id) -> dict:
    return {"code": code, "retryable": bool(retryable), "where": _clip(where),
            "correlation_id": _clip(correlation_id), "run_id": _clip(run_id)}


def status_for(mode: FailureMode) -> int:
    """The failure mode's HTTP status, or ``default_status`` (500) where the taxonomy has none."""
    return mode.http_status if mode.http_status is not None else config().default_status


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


def generic(name: str, detail: str, *, instance: str = "about:blank", where: str | None = None,
            correlation_id: str | None = None, run_id: str | None = None, retryable: bool = False,
            extensions: Mapping[str, Any] | None = None) -> dict:
    """A generic request problem (bad-request, method-not-allowed, ...): not a failure mode, code null."""
    cfg = config()
    spec = cfg.generic[name]
    doc = dict(extensions or {})
    doc.update({"type": cfg.generic_type_prefix + name, "title": spec["title"], "status": int(spec["status"]),
                "detail": _clip(detail, MAX_DETAIL) or "", "instance": instance or "about:blank",
                cfg.extension_member: _extension(None, retryable, where, correlation_id, run_id)})
    return doc


def dumps(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


# -- parsing ------------------------------------------------------------------------------------------

@dataclass
class Problem:
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


def parse(document: bytes | str | Mapping[str, Any] | Any, *, member: str | None = None) -> Problem:
    """Read a problem document from bytes, text or a parsed value. Never raises."""
    member = member or config().extension_member
    doc: Any = document
    try:
        if isinstance(document, (bytes, bytearray)):
            document = bytes(document).decode("utf-8", errors="replace")
        if isinstance(document, str):
            doc = json.loads(document)
    except (ValueError, RecursionError):
        return Problem(valid_json=False)
    if not isinstance(doc, Mapping):
        return Problem()
    status = doc.get("status")
    # RFC 9457 3.1: a member whose value has the wrong type is ignored; bool is not an integer here.
    status = status if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599 else None
    p = Problem(type=_str(doc.get("type")) or "about:blank", title=_str(doc.get("title")), status=status,
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

def validate(doc: Any, *, modes: Mapping[str, FailureMode] | None = None, member: str | None = None) -> list[str]:
    """Everything wrong with an envelope we emit (empty when valid): the schema, then the rules a schema
    cannot say (type names the code; title, status and retryable are the failure mode's)."""
    member = member or config().extension_member
    validator = jsonschema.Draft202012Validator(schema(member), format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
              for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        return errors
    cfg = config()
    ext = doc[member]
    if doc["type"].startswith(cfg.type_prefix):
        code = doc["type"][len(cfg.type_prefix):]
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
    else:
        name = doc["type"][len(cfg.generic_type_prefix):]
        spec = cfg.generic.get(name)
        if spec is None:
            errors.append(f"unknown generic problem {name!r} (ssot/problem.yaml lists them)")
        elif (doc["title"], doc["status"]) != (spec["title"], spec["status"]):
            errors.append(f"{name} has title {spec['title']!r} and status {spec['status']}")
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
