"""Named queries: every SQL statement the Python side runs lives in a .sql file beside this one.

A query starts with ``-- name: <name>`` and one line of why; it runs until the next ``-- name:``.
Parameters are psycopg's named placeholders, ``%(name)s``. :func:`execute` runs a query and refuses
to run it when a parameter is missing (NULL is passed only when the caller says ``None``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

_HEADER = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class MissingParameter(ValueError):
    """A named query was run without a value for one or more of its parameters."""

    def __init__(self, subsystem: str, name: str, missing: list[str]) -> None:
        self.query = f"{subsystem}.{name}"
        self.missing = missing
        super().__init__(f"query {self.query} needs parameter(s) {', '.join(missing)} "
                         "(pass None explicitly for NULL)")


def parse(text: str) -> dict[str, str]:
    parts = _HEADER.split(text)
    queries = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        sql = "\n".join(line for line in body.strip().splitlines() if not line.startswith("--")).strip()
        queries[name] = sql.rstrip(";")
    return queries


@cache
def load(subsystem: str) -> dict[str, str]:
    return parse((Path(__file__).parent / f"{subsystem}.sql").read_text())


def q(subsystem: str, name: str) -> str:
    """The text of one query. Raises KeyError for an unknown name."""
    return load(subsystem)[name]


@cache
def parameters(subsystem: str, name: str) -> frozenset[str]:
    """The names of the ``%(name)s`` placeholders of one query."""
    return frozenset(_PLACEHOLDER.findall(q(subsystem, name)))


def execute(target, subsystem: str, name: str, params: Mapping[str, Any] | None = None):
    """Run a named query on ``target`` (a psycopg connection or cursor) and return the cursor.

    Every placeholder needs a value in ``params`` (``None`` for NULL): raises MissingParameter naming
    the missing ones, before anything reaches the server. Extra keys are ignored.
    """
    params = dict(params or {})
    missing = sorted(parameters(subsystem, name) - params.keys())
    if missing:
        raise MissingParameter(subsystem, name, missing)
    return target.execute(q(subsystem, name), params)
