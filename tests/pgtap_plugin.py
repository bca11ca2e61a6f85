"""Runs every ``tests/sql/*.sql`` pgTAP file as a pytest item.

Each file runs with psql in its own database cloned from the template (files are also written as
``BEGIN … ROLLBACK``). The TAP stream is parsed: the item fails on any ``not ok``, on a plan that
does not match the number of tests run, or on a psql error, and the report lists the failing
assertions with pgTAP's diagnostics.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from worker.cluster import _bindir

TAP_LINE = re.compile(r"^(not ok|ok) (\d+)(?: - (.*))?$")
PLAN_LINE = re.compile(r"^1\.\.(\d+)$")


class PgTapFailure(Exception):
    pass


def pytest_collect_file(parent, file_path: Path):
    if file_path.suffix == ".sql" and file_path.parent.name == "sql" and file_path.parent.parent.name == "tests":
        return PgTapFile.from_parent(parent, path=file_path)
    return None


class PgTapFile(pytest.File):
    def collect(self):
        yield PgTapItem.from_parent(self, name=self.path.stem)


def run_tap(url: str, path: Path) -> str:
    result = subprocess.run(
        [str(_bindir() / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(path)],
        capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise PgTapFailure(f"psql exited {result.returncode}:\n{result.stderr.strip()}\n{result.stdout[-2000:]}")
    return result.stdout


def check_tap(output: str) -> tuple[int, list[str]]:
    """(tests passed, problems) from a TAP stream."""
    planned, seen, failures, diagnostics = None, 0, [], []
    for line in output.splitlines():
        if m := PLAN_LINE.match(line):
            planned = int(m.group(1))
        elif m := TAP_LINE.match(line):
            seen += 1
            if m.group(1) == "not ok":
                failures.append(f"not ok {m.group(2)} - {m.group(3) or ''}")
        elif line.startswith("#") and failures:
            failures[-1] += "\n    " + line
    if planned is None:
        diagnostics.append("no plan (1..N) in the output")
    elif planned != seen:
        diagnostics.append(f"planned {planned} tests but ran {seen}")
    return seen - len(failures), failures + diagnostics


class PgTapItem(pytest.Item):
    def runtest(self):
        from tests.dbkit import databases

        with databases().clone("tap") as url:
            output = run_tap(url, self.path)
        passed, problems = check_tap(output)
        self.user_properties.append(("pgtap_passed", passed))
        if problems:
            raise PgTapFailure("\n".join(problems))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, PgTapFailure):
            return f"{self.path.name}:\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"pgTAP: {self.path.name}"
