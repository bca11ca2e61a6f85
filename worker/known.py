"""Filter flags checked against what exists: a typo in ``--code``, ``--source`` or ``--agent-type`` is refused.

A filter that names nothing known would print an empty table and exit 0, which reads as "no such errors".
The commands run their query first and, only when it comes back empty, ask here whether the value exists:
an unknown value is refused as ``ops classify`` refuses an unknown source (exit 3, ``refused: …``, the JSON
error object naming the flag), with the closest known values. Codes and sources are case-sensitive; a value
that matches only when case is ignored is refused with a message that says so.

A login that may not read a list (e.g. ops.sources for an analyst) falls back as noted per function; when no
list can be read the value is not checked.
"""

from __future__ import annotations

import difflib

import psycopg

from worker.errors import BadInput
from worker.queries import execute

CLOSE = 3  # "did you mean" names at most this many
LISTED = 12  # a known list this short is printed in full


def closest(value: str, known: list[str]) -> list[str]:
    """The known values nearest ``value``, best first (difflib's ratio, ignoring case): those within 0.05 of the
    best at or above 0.6, else those with a part (split at ``.`` and ``_``) close to it (``githb``: github_actions)."""
    def score(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()

    scored = sorted(((score(value, k), k) for k in known), key=lambda sk: -sk[0])
    if scored and scored[0][0] >= 0.6:
        return [k for s, k in scored if s >= scored[0][0] - 0.05][:CLOSE]
    def part_score(k: str) -> float:
        return max((score(value, p) for p in k.replace(".", "_").split("_") if p), default=0.0)

    parts = sorted(((part_score(k), k) for k in known), key=lambda sk: -sk[0])
    return [k for s, k in parts if s >= 0.75][:CLOSE]


def unknown(value: str, known: list[str], *, noun: str, flag: str, code: str = "unknown_value",
            where: str | None = None) -> BadInput:
    """The refusal of ``value`` for ``flag`` (the JSON error object's field): names it, says when only case differs,
    and the closest known values; the whole list when it is short, else ``where`` they are listed."""
    folded = [k for k in known if k.lower() == value.lower()]
    if folded:
        notes = [f"{noun}s are case-sensitive: did you mean {folded[0]}?"]
    else:
        close = closest(value, known)
        notes = [f"did you mean {' or '.join(close)}?" if close else f"no known {noun} is close;"]
        if len(known) <= LISTED:
            notes.append(f"known {noun}s: {', '.join(known) or 'none'}")
        elif where:
            notes.append(where)
    # The wording of ingest's and classify's refusal of a source, `unknown source "x" (…)`, with the closest values.
    reason = f'unknown {noun} "{value}" ({" ".join(notes).rstrip(";")})'
    err = BadInput(reason)
    err.field, err.code = flag, code
    return err


def _rows(conn, subsystem: str, name: str, params: dict | None = None) -> list | None:
    """The first column of a named query, or None when this login may not read it."""
    try:
        with conn.transaction():
            return [r[0] if isinstance(r, tuple) else next(iter(r.values()))
                    for r in execute(conn, subsystem, name, params or {}).fetchall()]
    except psycopg.errors.InsufficientPrivilege:
        return None


def _conn(target):
    return getattr(target, "connection", target)


def check_code(target, code: str | None, flag: str = "--code") -> None:
    """Raise BadInput when ``code`` is neither in the taxonomy nor the code of a stored error."""
    if code is None:
        return
    conn = _conn(target)
    known = _rows(conn, "errors", "known_codes")
    if known is None or code in known:
        return
    stored = _rows(conn, "errors", "code_stored", {"code": code})
    if stored is None or stored[0]:
        return
    raise unknown(code, known, noun="code", flag=flag, where="the codes are listed in ssot/errors/failure_modes.yaml")


def sources(target) -> list[str] | None:
    """The known sources in the taxonomy's order (ops.sources); for a login that may not read it, the sources
    named by the taxonomy's UNKNOWN.<SOURCE> fallback codes (`ops ssot check` requires one per source)."""
    conn = _conn(target)
    found = _rows(conn, "errors", "known_sources")
    if found is None:
        codes = _rows(conn, "errors", "known_codes")
        found = None if codes is None else [c.split(".", 1)[1].lower() for c in codes if c.startswith("UNKNOWN.")]
    return found


def check_source(target, source: str | None, flag: str = "--source") -> None:
    """Raise BadInput (code OP002, as ingest and classify refuse one) when ``source`` is not a known source."""
    if source is None:
        return
    known = sources(target)
    if known is None or not known or source in known:
        return
    raise unknown(source, known, noun="source", flag=flag, code="OP002")


def check_agent_type(target, agent_type: str | None, flag: str = "--agent-type") -> None:
    """Raise BadInput when ``agent_type`` is neither a synced variant's agent type nor a scored run's."""
    if agent_type is None:
        return
    known = _rows(_conn(target), "outcomes", "known_agent_types")
    if known is None or not known or agent_type in known:
        return
    raise unknown(agent_type, known, noun="agent type", flag=flag)


def check_promotion_code(target, code: str, flag: str = "CODE") -> None:
    """Raise BadInput unless ``code`` is a taxonomy code other than UNKNOWN.* (what ops.promote_error accepts), so
    `ops triage promote` names a bad code before it asks for --yes."""
    if code.startswith("UNKNOWN."):
        err = BadInput(f'cannot promote to "{code}": an UNKNOWN code is the fallback, not a classification')
        err.field, err.code = flag, "unknown_fallback"
        raise err
    known = _rows(_conn(target), "errors", "known_codes")
    if known is None or not known or code in known:
        return
    where = "promote to a code of ssot/errors/failure_modes.yaml: add it there and run `ops ssot sync` first"
    raise unknown(code, [k for k in known if not k.startswith("UNKNOWN.")], noun="code", flag=flag, where=where)
