"""A typo destroys nothing: `ops db maintain` retention, `ops dispatch requeue`, `ops ssot sync`,
through the real CLI against a real database (the SQL side is tests/sql/08_destructive.sql)."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import psycopg
import pytest

from tests.test_cli import ops
from worker import ROOT, ssot
from worker.errors import OpsError, translate


def seed_days(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO ops.error_events (source, message, received_at) VALUES "
                     "('ops', 'qqd today', now()), ('ops', 'qqd yesterday', now() - interval '1 day'), "
                     "('ops', 'qqd tomorrow', now() + interval '1 day')")


def kept(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT message FROM ops.error_events WHERE message LIKE 'qqd%' ORDER BY message")]


ALL = ["qqd today", "qqd tomorrow", "qqd yesterday"]


def yesterday() -> tuple[str, date]:
    """(partition name, day) of yesterday's events, read when a test runs (not when the module is imported)."""
    day = date.today() - timedelta(days=1)
    return f"error_events_{day:%Y%m%d}", day


def test_a_negative_retention_is_a_usage_error_and_deletes_nothing(db_url):
    # The example: `--retention-days -1` printed "dropped: 2" and deleted every event received today.
    seed_days(db_url)
    result = ops("db", "maintain", "--retention-days", "-1", url=db_url)
    assert result.returncode == 2, result.stderr
    assert "--retention-days must be 0 or more" in result.stderr and "not -1" in result.stderr
    assert kept(db_url) == ALL
    # --yes does not make a negative number acceptable.
    assert ops("db", "maintain", "--retention-days", "-3", "--yes", url=db_url).returncode == 2
    assert ops("db", "maintain", "--days-ahead", "-1", url=db_url).returncode == 2
    assert kept(db_url) == ALL


def test_zero_retention_needs_yes_and_dry_run_lists_what_would_go(db_url):
    seed_days(db_url)
    unconfirmed = ops("db", "maintain", "--retention-days", "0", url=db_url)
    assert unconfirmed.returncode == 2 and "add --yes" in unconfirmed.stderr
    assert kept(db_url) == ALL
    dry = ops("db", "maintain", "--retention-days", "0", "--dry-run", url=db_url)
    assert dry.returncode == 0, dry.stderr
    partition, day = yesterday()
    assert f"would drop {partition} ({day}, 1 rows)" in dry.stdout
    assert "nothing changed" in dry.stdout
    assert kept(db_url) == ALL
    done = ops("db", "maintain", "--retention-days", "0", "--yes", "--json", url=db_url)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["classification_cache_pruned"] == 0, "nothing in the cache is a week old"
    assert out["partitions"] == [{"partition": partition, "day": day.isoformat(),
                                  "rows": 1, "dropped": True}]
    assert kept(db_url) == ["qqd today", "qqd tomorrow"], "today's and future events are never dropped"


def test_retention_says_what_it_dropped(db_url):
    seed_days(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        # An old partition (what a long-running system has): 40 days ago, two events.
        conn.execute("SELECT ops.ensure_error_event_partitions(0)")
        old = date.today() - timedelta(days=40)
        conn.execute(f"CREATE TABLE ops_private.error_events_{old:%Y%m%d} (LIKE ops.error_events INCLUDING DEFAULTS)")
        conn.execute(f"ALTER TABLE ops.error_events ATTACH PARTITION ops_private.error_events_{old:%Y%m%d} "
                     f"FOR VALUES FROM ('{old}') TO ('{old + timedelta(days=1)}')")
        conn.execute("INSERT INTO ops.error_events (source, message, received_at) "
                     "SELECT 'ops', 'qqd old', now() - interval '40 days' FROM generate_series(1, 2)")
    result = ops("db", "maintain", "--retention-days", "30", url=db_url)
    assert result.returncode == 0, result.stderr
    assert f"dropped error_events_{old:%Y%m%d} ({old}, 2 rows)" in result.stdout
    assert "dropped: 1 (2 rows)" in result.stdout
    assert kept(db_url) == ALL


def test_requeue_a_typo_changes_nothing(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        (esc,) = conn.execute("INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, "
                              "payload) VALUES ('qqd', 'fp', 'DB.DEADLOCK', 'manual', 'work_queue', 1, '{}') "
                              "RETURNING id").fetchone()
    wrong = ops("dispatch", "requeue", str(esc + 1000), url=db_url)
    assert wrong.returncode == 1 and f"no escalation {esc + 1000}" in wrong.stderr
    pending = ops("dispatch", "requeue", str(esc), url=db_url)
    assert pending.returncode == 1 and "is pending, not dead" in pending.stderr
    assert ops("dispatch", "requeue", "0", url=db_url).returncode == 2
    assert ops("dispatch", "requeue", "--", "-5", url=db_url).returncode == 2
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT state, error_history FROM ops.escalations").fetchone() == ("pending", [])
        conn.execute("UPDATE ops.escalations SET state = 'dead'")
    dry = ops("dispatch", "requeue", str(esc), "--dry-run", url=db_url)
    assert dry.returncode == 0 and "would requeue" in dry.stdout and "DB.DEADLOCK to work_queue" in dry.stdout
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT state FROM ops.escalations").fetchone() == ("dead",)
    real = ops("dispatch", "requeue", str(esc), url=db_url)
    assert real.returncode == 0 and "(DB.DEADLOCK to work_queue) requeued" in real.stdout


def test_sync_keeps_a_code_that_recorded_errors_reference(conn, tmp_path):
    for part in ("ssot", "docs/runbooks"):
        shutil.copytree(ROOT / part, tmp_path / part)
    conn.execute("SELECT ops.record_error(source => 'terraform', message => 'Error acquiring the state lock')")
    (code,) = conn.execute("SELECT code FROM ops.agent_errors").fetchone()
    conn.commit()
    assert code == "TF.STATE_LOCKED"
    text = (tmp_path / "ssot/errors/failure_modes.yaml").read_text()
    start = text.index("  - code: TF.STATE_LOCKED")
    end = text.index("  - code:", start + 10)
    (tmp_path / "ssot/errors/failure_modes.yaml").write_text(text[:start] + text[end:])
    with pytest.raises(OpsError) as refused, translate():
        ssot.sync(conn, tmp_path)
    assert refused.value.exit_code == 1
    assert "ssot sync refused: it would delete failure mode TF.STATE_LOCKED (1 error groups" in str(refused.value)
    assert "remove its patterns to stop new matches" in str(refused.value)
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM ops.failure_modes WHERE code = 'TF.STATE_LOCKED'").fetchone()[0] == 1
    # ops ssot diff shows the same refusal rather than a drift it could never apply.
    with pytest.raises(OpsError), translate():
        ssot.diff(conn, tmp_path)
