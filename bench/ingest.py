"""Ingest benchmark: the pipeline against its floor and its own alternatives, in one run.

Prints ratios, not verdicts (2 shared cores are noisy). Compared:
  floor         multi-row INSERT into an untriggered table of the same shape
  insert        multi-row INSERT into ops.error_events (redact, classify, fingerprint, dedupe, escalate)
  record_error  one ops.record_error() call per event (the API an Edge Function uses)
  classify      ops.classify_error() alone, with the regex prefilter
  classify_raw  the same query without the prefilter (every regex runs), the design it replaced
Usage: python bench/ingest.py [--events N]   (uses DATABASE_URL or the embedded cluster; writes
into a scratch database it drops afterwards)
"""

from __future__ import annotations

import argparse
import json
import random
import time
from contextlib import contextmanager

import psycopg

from worker import db, migrations, ssot
from worker.demo import events

RAW_CLASSIFY = """
SELECT (SELECT p.code FROM ops.failure_mode_patterns p JOIN ops.failure_modes m USING (code)
        WHERE CASE p.kind WHEN 'substring' THEN strpos(lower(x.message), p.pattern_lower) > 0
                          ELSE x.message ~* p.pattern END
        ORDER BY p.priority DESC, m.position, p.position LIMIT 1)
FROM jsonb_to_recordset(%s::jsonb) AS x (source text, phase text, message text)
"""


@contextmanager
def scratch_database():
    url = db.database_url()
    base = url.rsplit("/", 1)[0]
    name = f"bench_{random.randrange(10**6)}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    args = parser.parse_args()
    feed = events(random.Random(1))
    batch = [next(feed) for _ in range(args.events)]
    rows = [{"source": e["source"], "phase": e["phase"], "message": e["message"]} for e in batch]
    doc = json.dumps(rows)

    with scratch_database() as url, psycopg.connect(url, autocommit=True) as conn:
        migrations.migrate(conn)
        ssot.sync(conn)
        conn.execute("CREATE TABLE floor (LIKE ops.error_events INCLUDING DEFAULTS)")
        results = {
            "floor": timed(lambda: conn.execute(
                "INSERT INTO floor (source, phase, message) SELECT x.source, x.phase, x.message "
                "FROM jsonb_to_recordset(%s::jsonb) AS x (source text, phase text, message text)", (doc,))),
            "insert": timed(lambda: conn.execute(
                "INSERT INTO ops.error_events (source, phase, message) SELECT x.source, x.phase, x.message "
                "FROM jsonb_to_recordset(%s::jsonb) AS x (source text, phase text, message text)", (doc,))),
            "record_error": timed(lambda: [conn.execute(
                "SELECT ops.record_error(source => %(source)s, phase => %(phase)s, message => %(message)s)", r)
                for r in rows]),
            "classify": timed(lambda: conn.execute(
                "SELECT c.code FROM jsonb_to_recordset(%s::jsonb) AS x (source text, phase text, message text) "
                "CROSS JOIN LATERAL ops.classify_error(x.source, x.phase, x.message) c", (doc,)).fetchall()),
            "classify_raw": timed(lambda: conn.execute(RAW_CLASSIFY, (doc,)).fetchall()),
        }
    n = args.events
    print(f"{n} events from the demo feed\n")
    print(f"{'path':<14}{'total s':>9}{'µs/event':>11}{'events/s':>11}")
    for name, seconds in results.items():
        print(f"{name:<14}{seconds:>9.2f}{seconds / n * 1e6:>11.0f}{n / seconds:>11.0f}")
    print("\nratios (lower is better):")
    print(f"  insert / floor               {results['insert'] / results['floor']:8.1f}×  (the pipeline's cost over a bare insert)")
    print(f"  record_error / insert        {results['record_error'] / results['insert']:8.1f}×  (one call per event vs one statement)")
    print(f"  classify_raw / classify      {results['classify_raw'] / results['classify']:8.1f}×  (speed-up from the regex prefilter)")


if __name__ == "__main__":
    main()
