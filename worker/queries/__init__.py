"""Named queries: every SQL statement the Python side runs lives in a .sql file beside this one.

A query starts with ``-- name: <name>`` and one line of why; it runs until the next ``-- name:``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_HEADER = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


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
    return load(subsystem)[name]
