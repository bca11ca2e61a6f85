"""A landed migration never changes: ``tests/fixtures/landed_migrations.txt`` holds the sha256 of each.

A listed file that changed or vanished fails, naming it; a migration not listed yet fails with the one
command that lands it (``scripts/land-migrations <file>``). Landing is part of merging a migration.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from worker import ROOT

SCRIPT = ROOT / "scripts" / "land-migrations"
LIST = ROOT / "tests" / "fixtures" / "landed_migrations.txt"


def _script():
    loader = importlib.machinery.SourceFileLoader("land_migrations", str(SCRIPT))
    spec = importlib.util.spec_from_loader("land_migrations", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


land = _script()


def problems(sql_dir: Path = ROOT / "sql", listing: Path = LIST) -> list[str]:
    """What is wrong with the landed list against ``sql_dir``: one sentence per file."""
    landed = land.read_list(listing)
    found = []
    for name, digest in landed.items():
        path = sql_dir / name
        if not path.exists():
            found.append(f"{name}: landed migration vanished from sql/ (landed migrations are never removed)")
        elif land.sha256(path) != digest:
            found.append(f"{name}: landed migration changed (sha256 {land.sha256(path)}, landed as {digest}); "
                         "restore it and put the change in a new migration")
    for path in sorted(sql_dir.glob("*.sql")):
        if path.name not in landed:
            found.append(f"{path.name}: not landed yet; once it is final, run: scripts/land-migrations {path.name}")
    return found


def test_every_migration_is_landed_and_unchanged():
    assert problems() == []
    assert len(land.read_list(LIST)) == len(list((ROOT / "sql").glob("*.sql")))


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    sql_dir, listing = tmp_path / "sql", tmp_path / "landed.txt"
    shutil.copytree(ROOT / "sql", sql_dir)
    shutil.copy(LIST, listing)
    return sql_dir, listing


def test_a_changed_or_vanished_landed_migration_is_named(tmp_path):
    sql_dir, listing = _copy(tmp_path)
    changed, vanished = sorted(sql_dir.glob("*.sql"))[3:5]
    changed.write_text(changed.read_text() + "\n-- an edit after the fact\n")
    vanished.unlink()
    found = problems(sql_dir, listing)
    assert len(found) == 2
    assert found[0].startswith(f"{changed.name}: landed migration changed")
    assert found[1].startswith(f"{vanished.name}: landed migration vanished")


def test_a_new_migration_is_reported_with_the_command_that_lands_it(tmp_path):
    sql_dir, listing = _copy(tmp_path)
    (sql_dir / "29991231000000_extra.sql").write_text("CREATE TABLE ops.extra_for_test (id int);\n")
    assert problems(sql_dir, listing) == [
        "29991231000000_extra.sql: not landed yet; once it is final, run: "
        "scripts/land-migrations 29991231000000_extra.sql"]
    result = subprocess.run([sys.executable, str(SCRIPT), "--sql-dir", str(sql_dir), "--list", str(listing),
                             "29991231000000_extra.sql"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert problems(sql_dir, listing) == []
    assert listing.read_text().splitlines()[-1].endswith("  29991231000000_extra.sql")
    # Landing it again (say, after an edit) is refused.
    again = subprocess.run([sys.executable, str(SCRIPT), "--sql-dir", str(sql_dir), "--list", str(listing),
                            "29991231000000_extra.sql"], capture_output=True, text=True)
    assert again.returncode == 1 and "already landed" in again.stderr


def test_a_malformed_list_line_is_named(tmp_path):
    listing = tmp_path / "landed.txt"
    listing.write_text("abc 20261122000100_roles_and_schemas.sql\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(listing))}:1: expected"):
        land.read_list(listing)
