"""Problem Details (RFC 9457): build, parse, validate and record ``application/problem+json``.

The contract is ``ssot/schemas/problem.schema.json``; the settings are ``ssot/problem.yaml``.

* Every HTTP failure is a taxonomy failure: ``type`` ``urn:ipai:failure:<CODE>``, the failure mode's
  ``title`` and ``retryable``, ``ipai.code`` the code, and ``status`` = the failure mode's
  ``http_status`` or, where that is null, ``default_status`` (500). Request-level problems have codes
  too (HTTP.BAD_REQUEST, HTTP.METHOD_NOT_ALLOWED, HTTP.PAYLOAD_TOO_LARGE, HTTP.UNSUPPORTED_MEDIA_TYPE,
  DB.UNAVAILABLE, DB.LOGIN_REJECTED).
* ``detail``, ``where``, ``correlation_id`` and ``run_id`` are redacted with the SSOT redaction rules
  before they leave the process.

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
    default_status: int = 500


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
                  default_status=int(doc.get("default_status") or 500))


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
    return doc


# -- redaction ----------------------------------------------------------------------------------------
#
# ops.redact() in the database is the reference. The same rules run here and in the Edge Functions
# (supabase/functions/_shared/redaction_rules.json, generated from the YAML by this module: `python -m
# worker.problem --write-generated`). PostgreSQL ARE, Python re and JavaScript RegExp differ, so
# each pattern is translated token by token, and anything whose meaning differs is refused rather
# than guessed: POSIX classes other than [:space:] and [:digit:], \w, word boundaries, back
# references, non-greedy quantifiers (ARE's greediness rules are not Perl's), inline options.

REDACTION_JSON = Path("supabase/functions/_shared/redaction_rules.json")
SCHEMA_JSON = Path("supabase/functions/_shared/problem.schema.json")  # a generated copy of SCHEMA
# [[:space:]] in a UTF-8 database (glibc iswspace): ASCII whitespace and the Unicode spaces that are
# not no-break spaces. Python's and JavaScript's \s differ from it (and from each other), so the class
# is spelt out; a test compares it with the server's own class.
PG_SPACE = r"\t\n\x0b\x0c\r \u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000"
_CLASSES = {"space": PG_SPACE, "digit": "0-9"}
_ESCAPES = {"s": f"[{PG_SPACE}]", "S": f"[^{PG_SPACE}]", "d": "[0-9]", "D": "[^0-9]",
            "t": r"\t", "n": r"\n", "r": r"\r", "f": r"\x0c", "v": r"\x0b"}


class NotPortable(ValueError):
    """A redaction pattern uses PostgreSQL regex syntax that Python or JavaScript would read differently."""


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """The bracket expression starting at pattern[i] == '[', translated; and the index after it."""
    out, j = ["["], i + 1
    if pattern[j:j + 1] == "^":
        out.append("^")
        j += 1
    first = True
    while j < len(pattern):
        c = pattern[j]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        if c == "[" and pattern[j + 1:j + 2] in (":", ".", "="):
            kind = pattern[j + 1]
            end = pattern.find(kind + "]", j + 2)
            if end < 0:
                raise NotPortable(f"unterminated [{kind} in {pattern!r}")
            name = pattern[j + 2:end]
            if kind != ":" or name not in _CLASSES:
                raise NotPortable(f"[{kind}{name}{kind}] has no portable equivalent (only [:space:], [:digit:])")
            out.append(_CLASSES[name])
            j = end + 2
        elif c == "\\":
            e = pattern[j + 1:j + 2]
            if e in ("s", "d", "t", "n", "r", "f", "v"):
                out.append(_ESCAPES[e].strip("[]") if e in "sd" else _ESCAPES[e])
            elif e and not e.isalnum():
                out.append("\\" + e)
            else:
                raise NotPortable(f"\\{e} inside brackets is not portable")
            j += 2
        elif c in "]\\[":  # a leading ] is literal in ARE but ends an empty class in JavaScript
            out.append("\\" + c)
            j += 1
        else:
            out.append(c)
            j += 1
        first = False
    raise NotPortable(f"unterminated bracket expression in {pattern!r}")


def portable_regex(pattern: str, target: str = "js") -> str:
    """A PostgreSQL ARE pattern as a Python (``target="py"``) or JavaScript regex with the same meaning
    (the flags to use are ``s``/DOTALL, and ASCII-only case folding: re.ASCII, no JavaScript ``u``).
    Raises NotPortable for syntax whose meaning would differ."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            e = pattern[i + 1:i + 2]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
            elif e and not e.isalnum():
                out.append("\\" + e)
            else:
                raise NotPortable(f"\\{e} is not portable (word boundaries, back references, \\w ...)")
            i += 2
            continue
        if c == "[":
            text, i = _bracket(pattern, i)
            out.append(text)
            continue
        if c == "(" and pattern[i + 1:i + 2] == "?" and pattern[i + 2:i + 3] not in (":", "=", "!"):
            raise NotPortable("only (?: (?= (?! groups are portable")
        if c in "*+?}" and pattern[i + 1:i + 2] == "?":
            raise NotPortable("non-greedy quantifiers follow different rules in PostgreSQL")
        if c == "$" and target == "py":
            out.append(r"\Z")  # Python's $ also matches before a final newline
        else:
            out.append(c)
        i += 1
    return "".join(out)


def replacement_parts(replacement: str) -> list[int | str]:
    """regexp_replace's replacement as literal strings and group numbers (0 is the whole match):
    \\1..\\9 a group (empty when it did not take part), \\& the match, \\\\ a backslash, and any other
    backslash literally, as PostgreSQL does."""
    parts: list[int | str] = []
    text, i = [], 0
    while i < len(replacement):
        c, nxt = replacement[i], replacement[i + 1:i + 2]
        if c == "\\" and (nxt.isdigit() and nxt != "0" or nxt == "&"):
            if text:
                parts.append("".join(text))
                text = []
            parts.append(0 if nxt == "&" else int(nxt))
            i += 2
        elif c == "\\" and nxt == "\\":
            text.append("\\")
            i += 2
        else:
            text.append(c)
            i += 1
    if text:
        parts.append("".join(text))
    return parts


@dataclass(frozen=True)
class RedactionRule:
    name: str
    pattern: re.Pattern
    js_source: str
    ignore_case: bool
    replacement: tuple[int | str, ...]
    prefilter: tuple[str, ...] | None

    def _expand(self, m: re.Match) -> str:
        return "".join(p if isinstance(p, str) else (m.group(p) or "") if p <= (m.re.groups) else ""
                       for p in self.replacement)

    def apply(self, text: str) -> str:
        return self.pattern.sub(self._expand, text)


@cache
def _redaction_rules(root: Path = ROOT) -> tuple[RedactionRule, ...]:
    """ssot/errors/redaction.yaml, compiled for Python (and translated for JavaScript)."""
    rules = []
    for rule in ssot.load_yaml(ssot.REDACTION, root).get("rules") or []:
        ignore_case = "i" in str(rule.get("flags", "g"))
        flags = re.ASCII | re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        prefilter = rule.get("prefilter")
        rules.append(RedactionRule(
            name=rule["name"], pattern=re.compile(portable_regex(rule["pattern"], "py"), flags),
            js_source=portable_regex(rule["pattern"], "js"), ignore_case=ignore_case,
            replacement=tuple(replacement_parts(rule["replacement"])),
            prefilter=None if prefilter is None else tuple(prefilter)))
    return tuple(rules)


def pg_lower(text: str) -> str:
    """PostgreSQL's lower() for the prefilter test: one character to one (Python's 'İ'.lower() is two)."""
    return text.replace("\u0130", "i").lower()


def redact(text: str) -> str:
    """Apply the SSOT redaction rules exactly as ops.redact() does: in order, each rule only when the
    original text (lower-cased) contains one of its prefilter substrings."""
    lowered = pg_lower(text)
    for rule in _redaction_rules():
        if rule.prefilter is None or any(f in lowered for f in rule.prefilter):
            text = rule.apply(text)
    return text


def redaction_rules_json(root: Path = ROOT) -> str:
    """The content of supabase/functions/_shared/redaction_rules.json (the TypeScript copy)."""
    doc = {"_generated": f"from {ssot.REDACTION} by `python -m worker.problem --write-generated`; "
                         "do not edit (tests/test_edge_functions.py fails when it is stale)",
           "rules": [{"name": r.name, "source": r.js_source, "flags": "gis" if r.ignore_case else "gs",
                      "replacement": list(r.replacement),
                      "prefilter": None if r.prefilter is None else list(r.prefilter),
                      "examples": list(spec.get("examples") or [])}
                     for r, spec in zip(_redaction_rules(root),
                                        ssot.load_yaml(ssot.REDACTION, root).get("rules") or [], strict=True)]}
    return json.dumps(doc, indent=2) + "\n"


# -- building -----------------------------------------------------------------------------------------

def _clip(value: Any, limit: int = MAX_ID) -> str | None:
    """Storable (NUL becomes U+2400), redacted, then cut to the limit (as the database does)."""
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


def schema_json(root: Path = ROOT) -> str:
    """The content of supabase/functions/_shared/problem.schema.json: the one schema, copied where a
    deployed function can import it (a function bundle cannot reach ssot/)."""
    return json.dumps(json.loads((root / SCHEMA).read_text(encoding="utf-8")), indent=2, ensure_ascii=False) + "\n"


def write_generated(root: Path = ROOT, *, check: bool = False) -> list[Path]:
    """Write (or with ``check``, only list) the generated TypeScript-side files that are out of date."""
    stale = []
    for path, content in ((REDACTION_JSON, redaction_rules_json(root)), (SCHEMA_JSON, schema_json(root))):
        full = root / path
        if not full.exists() or full.read_text(encoding="utf-8") != content:
            stale.append(path)
            if not check:
                full.write_text(content, encoding="utf-8")
    return stale


if __name__ == "__main__":  # python -m worker.problem --write-generated [--check]
    import sys

    args = set(sys.argv[1:])
    if not args <= {"--write-generated", "--check"} or "--write-generated" not in args:
        sys.exit("usage: python -m worker.problem --write-generated [--check]")
    out_of_date = write_generated(check="--check" in args)
    for path in out_of_date:
        print(f"{path}: {'stale' if '--check' in args else 'written'}")
    sys.exit(1 if out_of_date and "--check" in args else 0)
