"""One place that turns database and input errors into the CLI's clear one-line messages.

PL/pgSQL raises SQLSTATE class OP for refused input (see sql/*_ingest.sql); everything else that
reaches the user goes through :func:`translate` so that the CLI never prints a stack trace for an
expected failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

# Exit codes, documented in the README and in `ops --help`.
EXIT_OK = 0
EXIT_FAILED = 1  # a check failed or drift was found
EXIT_USAGE = 2  # argparse's own code for bad command lines
EXIT_BAD_INPUT = 3  # the pipeline refused the input (missing field, unknown source, ...)
EXIT_UNAVAILABLE = 4  # the database or another dependency could not be reached
EXIT_INTERNAL = 70


class OpsError(Exception):
    """An expected failure with a message fit for the user and an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class BadInput(OpsError):
    exit_code = EXIT_BAD_INPUT


class NotFound(OpsError):
    exit_code = EXIT_FAILED


class Unavailable(OpsError):
    exit_code = EXIT_UNAVAILABLE


class Usage(OpsError):
    """A bad command line, environment (``DATABASE_URL``) or an unprepared database: exit 2, with what to
    run or change. ``field`` names the flag or variable at fault, when there is one."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, field: str | None = None, code: str = "usage") -> None:
        super().__init__(message)
        self.field, self.code = field, code


# Who may run each `ops` command (README "Roles"); named when the server says insufficient_privilege.
# Keys are the command, or "command subcommand" where the subcommand needs more.
OWNER = "the owner of the ops schema (the login that ran `ops db migrate`)"
COMMAND_ROLES = {
    "ingest": "a login in ops_ingest", "classify": "a login in ops_analyst or ops_ingest",
    "errors": "a login in ops_analyst", "errors regroup": OWNER,
    "dispatch": "a login in ops_analyst (list) or ops_worker (requeue)", "dispatch requeue": "a login in ops_worker",
    "worker": "a login in ops_worker", "fixbot": "a login in ops_worker",
    "db": OWNER, "ssot": OWNER, "demo": OWNER, "resolve": OWNER, "ignore": OWNER, "reopen": OWNER,
    "report": "a login in ops_analyst", "classifier": OWNER, "export": OWNER,
    "fixbot report": "a login in ops_outcomes", "bench": "a login in ops_analyst",
    "bench scorecard": "a login in ops_analyst", "bench compare": "a login in ops_analyst", "bench promote": OWNER,
    "triage": "a login in ops_analyst (list) or ops_triage (promote)", "triage promote": "a login in ops_triage",
    "gate": "a login in ops_analyst",
}
# The command running in this process (set by the CLI's main), for errors mapped without one.
CURRENT_COMMAND: str | None = None


# Server errors that mean the schema is missing or older than this code: the migrations have not run.
_UNMIGRATED = {"42P01": "relation", "42883": "function", "3F000": "schema", "42704": "object", "42703": "column"}
MIGRATE_HINT = "the database is not migrated (or older than this version of ops): run `ops db migrate`"
SYNC_HINT = "the taxonomy is empty: run `ops ssot sync`"


def from_psycopg(exc: psycopg.Error, command: str | None = None) -> OpsError | None:
    """The OpsError for a server error the user can act on, or None for one that is a bug.

    One place for every command: SQLSTATE class OP (refused input OP001/OP002/OP006, not found, final states), the
    destructive operations' OPD codes, an unmigrated schema (42P01 undefined_table, 42883
    undefined_function, 3F000 invalid_schema_name, 42704, 42703 -> exit 2 "run `ops db migrate`"), an
    unsynced taxonomy (exit 2 "run `ops ssot sync`") and insufficient_privilege (42501 -> exit 1 naming the
    role ``command`` needs)."""
    if isinstance(exc, psycopg.errors.DataError):
        # Raised client-side too, e.g. for NUL bytes the server cannot store.
        return BadInput(describe(exc) if exc.diag.message_primary else str(exc))
    if isinstance(exc, psycopg.OperationalError) and not exc.sqlstate:
        return Unavailable(f"database unavailable: {str(exc).strip().splitlines()[0]}")
    state = exc.sqlstate or ""
    if state == "OP002" and "taxonomy is not synced" in (exc.diag.message_detail or ""):
        return Usage(f"{SYNC_HINT} ({exc.diag.message_primary})", code=state)
    if state in ("OP001", "OP002", "OP006"):  # missing/blank/bad field, unknown source, reserved source
        return BadInput(describe(exc))
    if state == "OP004":
        return NotFound(describe(exc))
    if state == "OP005":  # a finished agent run is final
        return OpsError(describe(exc))
    if state in ("OPD01", "OPD02"):  # a destructive operation's argument out of range / unconfirmed
        return Usage(describe(exc), code=state)
    if state in ("OPD03", "OPD04"):  # it would orphan history / the row's state is not one it touches
        hint = exc.diag.message_hint
        return OpsError(describe(exc) + (f". {hint}" if hint else ""))
    if state in _UNMIGRATED:
        return Usage(f"{MIGRATE_HINT} ({exc.diag.message_primary})", code=state)
    if state == "42501":
        command = command or CURRENT_COMMAND
        role = COMMAND_ROLES.get(command or "", "a login in ops_ingest, ops_worker or ops_analyst")
        return OpsError(f"{exc.diag.message_primary}: `ops {command or '…'}` needs {role} (README, Roles)")
    if isinstance(exc, psycopg.OperationalError):
        return Unavailable(f"database unavailable: {describe(exc)}")
    return None


def describe(exc: psycopg.Error) -> str:
    """The server's message with its detail, on one line."""
    diag = exc.diag
    text = diag.message_primary or str(exc).strip().splitlines()[0]
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    return text


@contextlib.contextmanager
def translate(command: str | None = None) -> Iterator[None]:
    """Map psycopg errors raised inside the block to OpsError subclasses (see :func:`from_psycopg`)."""
    try:
        yield
    except psycopg.Error as exc:
        mapped = from_psycopg(exc, command)
        if mapped is None:
            raise
        raise mapped from exc


def require_synced(sources) -> None:
    """Raise Usage ("run `ops ssot sync`") when ``sources`` (the known sources) is empty."""
    if sources is not None and not sources:
        raise Usage(SYNC_HINT, code="unsynced")
