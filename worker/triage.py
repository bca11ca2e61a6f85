"""Triage of UNKNOWN errors: the queue with suggested codes (`ops triage list`) and promotion
(`ops triage promote`), optionally adding the pattern that classifies such messages from now on.

The decisions live in SQL (``ops.triage_queue``, ``ops.pattern_conflicts``, ``ops.promote_error``); this
module moves data between them, the SSOT file and the terminal. Adding a pattern edits
``ssot/errors/failure_modes.yaml`` with ruamel.yaml's round-trip mode, which keeps comments, key order,
quoting and layout: only the inserted line differs (the file as shipped round-trips byte for byte).

The steal rule: a pattern added to CODE *steals* when it would change the code ``ops.classify_error``
gives to a message that a real code (not ``UNKNOWN.*``) classifies today. The messages tried are the
sample of every stored error group and, when the file exists, every message of
``tests/fixtures/classification_corpus.yaml``. The classifier itself decides (the pattern is tried in a
subtransaction that rolls back), so a pattern that also matches another code's message but loses to it
by precedence steals nothing.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from worker import ROOT, ssot
from worker.errors import BadInput, NotFound, OpsError, Usage
from worker.queries import execute

CORPUS = Path("tests/fixtures/classification_corpus.yaml")
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


# -- the v2 classifier's seam -----------------------------------------------------------------------

def classifier_suggestions(conn, fingerprints: list[str]) -> dict[str, list[dict]]:
    """The v2 classifier's suggested codes per fingerprint: ``{fingerprint: [{"code", "probability"}]}``.

    Calls ``worker.learn.classifier.suggest(conn, fingerprints) -> {fp: [(code, p)]}``; every list is empty
    while no model is recorded (``ops classifier train``). v1 (the SQL patterns) stays the classifier of record: these are hints only."""
    empty = {fp: [] for fp in fingerprints}
    if not fingerprints:
        return empty
    from worker.learn import classifier  # lazily: scikit-learn is slow to import

    try:
        found = classifier.suggest(conn, fingerprints) or {}
    except NotFound:  # no model trained yet: no v2 suggestions
        return empty
    return {fp: [{"code": code, "probability": round(float(p), 3)} for code, p in found.get(fp, [])]
            for fp in fingerprints}


# -- the queue --------------------------------------------------------------------------------------

def queue(conn, *, source: str | None, limit: int, suggestions: int = 3) -> list[dict]:
    """The UNKNOWN queue, most frequent first: each group with ``suggested`` (nearest classified groups'
    codes by trigram similarity, from ``ops.triage_queue``) and ``classifier`` (the v2 seam)."""
    rows = execute(conn, "triage", "queue", {"source": source, "limit": limit, "suggestions": suggestions}).fetchall()
    hints = classifier_suggestions(getattr(conn, "connection", conn), [r["fingerprint"] for r in rows])
    for r in rows:
        r["classifier"] = hints.get(r["fingerprint"], [])
    return rows


# -- resolving a fingerprint ------------------------------------------------------------------------

def resolve_fingerprint(conn, text: str) -> str:
    """A full fingerprint (64 hex characters) as given, or the one UNKNOWN group whose fingerprint starts
    with ``text`` (at least 6 characters). Raises Usage for a malformed or ambiguous prefix and OpsError
    (exit 1) when nothing matches."""
    text = text.strip().lower()
    if FINGERPRINT.match(text):
        return text
    if not re.fullmatch(r"[0-9a-f]{6,63}", text):
        raise Usage(f"FINGERPRINT must be 6 to 64 hexadecimal characters, not {text!r}", field="FINGERPRINT")
    rows = [r["fingerprint"] for r in execute(conn, "triage", "queue_prefix", {"prefix": text}).fetchall()]
    if not rows:
        raise OpsError(f"no error in the triage queue starts with {text} (give the full fingerprint of a classified "
                       "error to re-code it with --force)")
    if len(rows) > 1:
        raise Usage(f"fingerprint prefix {text} is ambiguous: " + ", ".join(r[:12] for r in rows[:10]),
                    field="FINGERPRINT")
    return rows[0]


# -- the pattern: conflicts, then the SSOT file -------------------------------------------------------

@dataclass
class Conflicts:
    steals: list[dict] = field(default_factory=list)      # messages of other codes it would move
    classifies: list[dict] = field(default_factory=list)  # UNKNOWN messages it would also classify

    def stolen_codes(self) -> list[str]:
        return sorted({r["code_before"] for r in self.steals})


def corpus_messages(root: Path) -> list[dict]:
    """The labelled corpus's messages as {source, phase, message} (empty when the file is absent)."""
    path = root / CORPUS
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [{"source": e["source"], "phase": e.get("phase"), "message": e["message"]}
            for e in entries if isinstance(e, dict) and e.get("source") and e.get("message")]


def pattern_conflicts(conn, code: str, kind: str, pattern: str, root: Path) -> Conflicts:
    """What adding ``pattern`` to ``code`` would change, decided by ops.pattern_conflicts (module docstring)."""
    literals = ssot.required_literals(pattern) if kind == "regex" else None
    rows = execute(conn, "triage", "pattern_conflicts", {
        "code": code, "kind": kind, "pattern": pattern, "required_literals": literals,
        "messages": json.dumps(corpus_messages(root))}).fetchall()
    found = Conflicts()
    for r in rows:
        (found.steals if r["steals"] else found.classifies).append(r)
    return found


def _yaml() -> YAML:
    """ruamel.yaml in round-trip mode, set up as the SSOT files are written (2-space mappings, sequences
    indented 4 with the dash at 2, no re-wrapping, null spelt `null`)."""
    y = YAML()
    y.preserve_quotes = True
    y.width = 10_000
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def add_pattern(text: str, code: str, kind: str, pattern: str) -> str:
    """``text`` (the taxonomy file) with ``pattern`` appended to ``code``'s detect.patterns: a substring
    as a double-quoted string, a regex as ``{regex: '…'}`` in flow style, as the file writes them.
    Raises BadInput when the code is not in the file or already has this pattern."""
    y = _yaml()
    doc = y.load(text)
    modes = [fm for fm in doc.get("failure_modes") or [] if fm.get("code") == code]
    if not modes:
        raise BadInput(f"code {code} is not in {ssot.TAXONOMY}")
    patterns = modes[0]["detect"]["patterns"]
    existing = {(("regex", p["regex"]) if isinstance(p, dict) and "regex" in p else
                 ("substring", p["substring"] if isinstance(p, dict) else str(p))) for p in patterns}
    if (kind, pattern) in existing:
        raise BadInput(f"{code} already has the {kind} pattern {pattern!r}")
    if kind == "regex":
        item = CommentedMap([("regex", SingleQuotedScalarString(pattern))])
        item.fa.set_flow_style()
    else:
        item = DoubleQuotedScalarString(pattern)
    patterns.append(item)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def unified_diff(before: str, after: str, path: Path) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))


@dataclass
class Promotion:
    fingerprint: str
    code: str
    result: dict | None = None
    diff: str = ""
    conflicts: Conflicts = field(default_factory=Conflicts)


def promote(conn, check_conn, fingerprint: str, code: str, *, pattern: str | None, kind: str, force: bool,
            root: Path = ROOT) -> Promotion:
    """Promote one error (ops.promote_error) and, with ``pattern``, add it to the SSOT file.

    Order, so that a refusal leaves nothing half done: the pattern's conflicts are checked first (refused
    when it steals, naming the codes); then the promotion runs in the open transaction of ``conn``; the
    new file is written and ``ops ssot check`` run on it (through ``check_conn``, a second connection);
    a failed check restores the file and rolls the promotion back. The caller commits."""
    done = Promotion(fingerprint, code)
    path = root / ssot.TAXONOMY
    if pattern is not None:
        if not pattern.strip():
            raise BadInput("--pattern must not be blank")
        done.conflicts = pattern_conflicts(conn, code, kind, pattern, root)
        if done.conflicts.steals:
            first = done.conflicts.steals[0]
            raise OpsError(
                f"the {kind} pattern {pattern!r} would steal {len(done.conflicts.steals)} message(s) "
                f"classified today as {', '.join(done.conflicts.stolen_codes())} (e.g. {first['origin']}"
                f"{' ' + first['fingerprint'][:12] if first['fingerprint'] else ''}: {first['message'][:120]!r}); "
                "make the pattern more specific")
    done.result = execute(conn, "triage", "promote", {"fingerprint": fingerprint, "code": code, "force": force}).fetchone()
    if pattern is not None:
        before = path.read_text(encoding="utf-8")
        after = add_pattern(before, code, kind, pattern)
        path.write_text(after, encoding="utf-8")
        problems = ssot.check(check_conn, root)
        if problems:
            path.write_text(before, encoding="utf-8")
            getattr(conn, "connection", conn).rollback()
            raise OpsError("ops ssot check refused the new pattern (file restored, nothing promoted): "
                           + "; ".join(str(p) for p in problems))
        done.diff = unified_diff(before, after, ssot.TAXONOMY)
    return done
