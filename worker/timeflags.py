"""The one way `ops` reads a duration or a point in time, from a flag or from an SSOT value.

Durations: a positive whole number (at most 7 digits) and a unit: s, m, h, d or w (``90s``, ``30m``, ``24h``,
``7d``, ``2w``). Points in time: a duration before now (``--since 24h``) or after now (``--until 24h``), or an
ISO 8601 / RFC 3339 date or time (``2026-11-30``, ``2026-11-30T12:00:00Z``); a date or a time without an offset is
UTC, as everything ops prints.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, timezone

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION = re.compile(r"([1-9][0-9]{0,6})([smhdw])")
FORMS = "a duration like 30m, 24h, 7d or 2w, or an RFC 3339 date or time like 2026-11-30 or 2026-11-30T12:00:00Z"


ZERO = re.compile(r"0+[smhdw]")  # a duration of nothing: refused for what it is, not for its form


def duration_seconds(text: str, what: str = "duration") -> int:
    """``30m`` -> 1800 (units s, m, h, d, w). Raises ValueError naming ``what`` for anything else."""
    m = DURATION.fullmatch(str(text).strip())
    if not m:
        if ZERO.fullmatch(str(text).strip()):
            raise ValueError(f"{what} {text!r} must be above zero (like 30m, 24h, 7d or 2w)")
        raise ValueError(f"{what} {text!r} is not a duration like 30m, 24h, 7d or 2w")
    return int(m.group(1)) * UNITS[m.group(2)]


def point_in_time(text: str, *, future: bool = False, now: datetime | None = None) -> datetime:
    """A duration before now (after now when ``future``) or a date/time (UTC when it has no offset), timezone-aware.
    An argparse type: anything else raises ArgumentTypeError naming the accepted forms."""
    value = str(text).strip()
    if ZERO.fullmatch(value):
        raise argparse.ArgumentTypeError(f"must be a duration above zero (like 30m, 24h, 7d or 2w) or an RFC 3339 "
                                         f"date or time, not {text!r}")
    if DURATION.fullmatch(value):
        delta = timedelta(seconds=duration_seconds(value))
        now = now or datetime.now(timezone.utc)
        return now + delta if future else now - delta
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {FORMS}, not {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def since(text: str) -> datetime:
    """argparse type of ``--since``: a point in the past (a duration counts back from now)."""
    return point_in_time(text)


def rfc3339_utc(when: datetime) -> str:
    """``when`` in UTC as RFC 3339 with ``Z`` (``2020-01-01T00:00:00Z``), to the second."""
    return when.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def until(text: str) -> datetime:
    """argparse type of ``--until``: a point in the future (a duration counts on from now)."""
    return point_in_time(text, future=True)
