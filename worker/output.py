"""Plain-text output for the command lines: one value as a cell, rows as an aligned table, JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime

from worker.render import terminal

# Characters JSON may carry raw that a terminal would act on (C1 controls, bidi and other format
# characters, line/paragraph separators): printed as \uXXXX escapes, the same JSON value.
_JSON_INVISIBLE = re.compile("[\u0080-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


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
    """``rows`` as a left-aligned text table of ``columns``; every cell through render.terminal (control and
    bidi characters shown visibly, one line) and cut to ``width`` characters."""
    cells = [[terminal(fmt(r[c]), limit=width) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def emit_json(value) -> None:
    """Print ``value`` as indented JSON (datetimes and other values through :func:`fmt`); characters a
    terminal would act on are printed as \\uXXXX escapes, so the JSON value is the same."""
    text = json.dumps(value, default=fmt, ensure_ascii=False, indent=2)
    print(_JSON_INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))
