"""worker/timeflags.py: the one reading of durations and points in time every `ops` flag and SSOT duration shares."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

import pytest

from worker import timeflags

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600)])
def test_durations(text, seconds):
    assert timeflags.duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["1y", "1.5h", "-3d", "", "12345678s", "h"])
def test_a_bad_duration_is_named_with_what_it_is(text):
    with pytest.raises(ValueError, match="run_timeout .* is not a duration like 30m"):
        timeflags.duration_seconds(text, "run_timeout")


@pytest.mark.parametrize("text", ["0h", "0m", "00s"])
def test_a_zero_duration_is_refused_for_being_zero(text):
    with pytest.raises(ValueError, match=f"run_timeout '{text}' must be above zero"):
        timeflags.duration_seconds(text, "run_timeout")
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be a duration above zero .*, not '{text}'"):
        timeflags.until(text)


def test_rfc3339_utc():
    assert timeflags.rfc3339_utc(datetime(2020, 1, 1, tzinfo=timezone.utc)) == "2020-01-01T00:00:00Z"
    assert timeflags.rfc3339_utc(timeflags.point_in_time("2020-01-01T03:00:00+02:00")) == "2020-01-01T01:00:00Z"


def test_points_in_time():
    assert timeflags.point_in_time("24h", now=NOW) == datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    assert timeflags.point_in_time("2w", future=True, now=NOW) == datetime(2026, 12, 14, 12, 0, tzinfo=timezone.utc)
    assert timeflags.point_in_time("2026-11-23") == datetime(2026, 11, 23, tzinfo=timezone.utc)
    assert timeflags.point_in_time("2026-11-23T08:00:00") == datetime(2026, 11, 23, 8, tzinfo=timezone.utc)
    assert timeflags.point_in_time("2026-11-23T08:00:00+02:00").utcoffset().total_seconds() == 7200


def test_anything_else_is_a_usage_error_naming_the_forms():
    with pytest.raises(argparse.ArgumentTypeError, match="must be a duration like 30m, 24h, 7d or 2w, or an RFC 3339"):
        timeflags.since("yesterday")
