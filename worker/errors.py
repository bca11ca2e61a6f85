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


def describe(exc: psycopg.Error) -> str:
    """The server's message with its detail, on one line."""
    diag = exc.diag
    text = diag.message_primary or str(exc).strip().splitlines()[0]
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    return text


@contextlib.contextmanager
def translate() -> Iterator[None]:
    """Map psycopg errors raised inside the block to OpsError subclasses."""
    try:
        yield
    except psycopg.errors.DataError as exc:
        # Raised client-side too, e.g. for NUL bytes the server cannot store.
        raise BadInput(describe(exc) if exc.diag.message_primary else str(exc)) from exc
    except psycopg.OperationalError as exc:
        raise Unavailable(f"database unavailable: {str(exc).strip().splitlines()[0]}") from exc
    except psycopg.Error as exc:
        state = exc.sqlstate or ""
        if state in ("OP001", "OP002", "OP006"):  # missing/blank/bad field, unknown source, reserved source
            raise BadInput(describe(exc)) from exc
        if state == "OP004":
            raise NotFound(describe(exc)) from exc
        if state == "OP005":  # a finished agent run is final
            raise OpsError(describe(exc)) from exc
        if state in ("OPD01", "OPD02"):  # a destructive operation's argument out of range / unconfirmed
            raise OpsError(describe(exc), exit_code=EXIT_USAGE) from exc
        if state in ("OPD03", "OPD04"):  # it would orphan history / the row's state is not one it touches
            hint = exc.diag.message_hint
            raise OpsError(describe(exc) + (f". {hint}" if hint else "")) from exc
        raise
