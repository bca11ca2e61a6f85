"""The peers' side of bench/drain.py and bench/latency.py. It runs in a peer's own virtualenv
(bench/peers.py), so it imports only the standard library and the peer.

    python _peer_queue.py pgqueuer|procrastinate setup    URL
    python _peer_queue.py pgqueuer|procrastinate consume  URL CONCURRENCY
    python _peer_queue.py pgqueuer|procrastinate enqueue  URL N
    python _peer_queue.py pgqueuer|procrastinate produce  URL RATE SECONDS
    python _peer_queue.py pgqueuer|procrastinate done     URL

Each job is the same no-op (record the job id and the wall-clock time it ran). ``consume`` runs until
SIGTERM, then prints ``{"executed": [[job_id, unix_seconds], ...]}``; ``enqueue`` enqueues N jobs in one
transaction and prints ``{"ids": [...], "committed_at": unix_seconds}``; ``produce`` enqueues one job per
transaction at RATE per second for SECONDS and prints ``{"committed": [[job_id, unix_seconds], ...]}``;
``done`` prints how many jobs have finished. The last stdout line is the JSON answer.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

ENTRYPOINT = "noop"
executed: list[list] = []


# -- PgQueuer (psycopg driver) ----------------------------------------------------------------------
async def pgq_conn(url):
    import psycopg
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def pgq(action: str, url: str, args: list[str]) -> dict:
    from pgqueuer import PgQueuer
    from pgqueuer.db import PsycopgDriver
    from pgqueuer.queries import Queries

    conn = await pgq_conn(url)
    driver = PsycopgDriver(conn)
    queries = Queries(driver)
    if action == "setup":
        await queries.install()
        return {"ok": True}
    if action == "done":
        cur = await conn.execute("SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'")
        return {"done": (await cur.fetchone())[0]}
    if action == "enqueue":
        n = int(args[0])
        ids = await queries.enqueue([ENTRYPOINT] * n, [None] * n, [0] * n)
        return {"ids": [int(i) for i in ids], "committed_at": time.time()}
    if action == "produce":
        return {"committed": await paced(lambda: queries.enqueue(ENTRYPOINT, None), float(args[0]), float(args[1]))}
    concurrency = int(args[0])
    pq = PgQueuer(driver)

    @pq.entrypoint(ENTRYPOINT)
    async def noop(job) -> None:
        executed.append([int(job.id), time.time()])

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, pq.shutdown.set)
    await pq.run(batch_size=concurrency, max_concurrent_tasks=concurrency * 2)
    return {"executed": executed}


# -- Procrastinate (psycopg connector) ---------------------------------------------------------------
async def procrastinate(action: str, url: str, args: list[str]) -> dict:
    import procrastinate as p

    app = p.App(connector=p.PsycopgConnector(conninfo=url))

    @app.task(name=ENTRYPOINT, pass_context=True)
    async def noop(context) -> None:
        executed.append([int(context.job.id), time.time()])

    async with app.open_async():
        if action == "setup":
            await app.schema_manager.apply_schema_async()
            return {"ok": True}
        if action == "done":
            rows = await app.connector.execute_query_all_async(
                "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'succeeded'")
            return {"done": rows[0]["n"]}
        if action == "enqueue":
            ids = await noop.batch_defer_async(*({} for _ in range(int(args[0]))))
            return {"ids": [int(i) for i in ids], "committed_at": time.time()}
        if action == "produce":
            return {"committed": await paced(lambda: noop.defer_async(), float(args[0]), float(args[1]))}
        concurrency = int(args[0])
        await app.run_worker_async(concurrency=concurrency, wait=True, install_signal_handlers=True,
                                   fetch_job_polling_interval=5, shutdown_graceful_timeout=5)
        return {"executed": executed}


async def paced(enqueue, rate: float, seconds: float) -> list[list]:
    """One job per transaction at ``rate`` per second (open loop: a late one does not delay the next)."""
    out, start, n = [], time.monotonic(), int(rate * seconds)
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        got = await enqueue()
        job_id = got[0] if isinstance(got, list) else got
        out.append([int(job_id), time.time()])
    return out


def main() -> None:
    peer, action, url, *args = sys.argv[1:]
    runner = {"pgqueuer": pgq, "procrastinate": procrastinate}[peer]
    print(json.dumps(asyncio.run(runner(action, url, args))))


if __name__ == "__main__":
    main()
