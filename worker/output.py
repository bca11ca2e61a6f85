"""Plain-text output for the command lines: one value as a cell, rows as an aligned table, JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime


def fmt(value) -> str:
    """A value as a table cell: None empty, datetimes to the second, floats with two decimals."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def table(rows: Sequence[dict], columns: Sequence[str], width: int = 60) -> str:
    """``rows`` as a left-aligned text table of ``columns``, each cell cut to ``width`` characters."""
    cells = [[fmt(r[c]).replace("\n", " ")[:width] for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def emit_json(value) -> None:
    """Print ``value`` as indented JSON (datetimes and other values through :func:`fmt`)."""
    print(json.dumps(value, default=fmt, ensure_ascii=False, indent=2))
