"""The worker loop.

Connection discipline: one dedicated autocommit connection LISTENs on ``ops_outbox`` (a wake-up
hint, never a message), over ``listen_url`` when given: LISTEN needs a direct session, which a
transaction-mode pooler does not keep; claims, completions and destination writes use short
autocommit calls from a small pool over ``url``, which may go through such a pooler. Completions
are batched (worker/dispatch/completions.py: one ops.complete_escalations statement for everything
finished since the last one), and a finished delivery frees its slot before its completion commits. The outbox is drained on start, on every notification, on every reconnect and every
poll interval, so a lost notification delays nothing by more than the interval. Deliveries run in
a thread pool outside any transaction; a heartbeat thread extends their leases; any worker's
reaper returns the leases of dead workers to the queue.

The reaper (expired leases, FixBot runs nobody reported on) and the queue metrics run at least every
``lease / 2`` seconds, also while a backlog keeps the worker draining.

Shutdown: the first SIGTERM/SIGINT stops claiming and lets in-flight deliveries finish for up to
``shutdown_timeout`` seconds (their leases are still extended), then gives the rest back and exits
without waiting for the threads still delivering; a second signal exits at once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pythonjsonlogger.json import JsonFormatter

from worker import fixbot, resolutions, timeflags
from worker.dispatch import backoff, http
from worker.dispatch.completions import Completions
from worker.dispatch.destinations import Destination, handlers
from worker.dispatch.metrics import Metrics
from worker.dispatch.outcomes import Permanent, Retry, WaitForConfig
from worker.logsafe import RedactFilter
from worker.output import rfc3339
from worker.queries import execute


class _JsonLines(JsonFormatter):
    """python-json-logger, shaped as our lines: ``{"ts": <RFC 3339 UTC, milliseconds>, "event": ..., **fields}``
    (``"ts": "2026-11-30T00:31:07.123+00:00"``).
    A library's record (psycopg_pool's reconnection warnings) becomes event ``library_log`` with its
    logger, level and message."""

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        if not message_dict:
            message_dict = {"event": "library_log", "logger": record.name, "level": record.levelname.lower(),
                            "message": record.getMessage()}
        ts = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        log_data.update({"ts": ts, **message_dict})


def _json_value(value) -> str:
    """A value JSON cannot hold: a datetime as RFC 3339 with its offset, anything else as str()."""
    return rfc3339(value) if isinstance(value, datetime) else str(value)


class _Stderr(logging.StreamHandler):
    """A handler that writes to the current sys.stderr (not the one at import time); flushed per line."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


_HANDLER = _Stderr()
_HANDLER.setFormatter(_JsonLines(json_default=_json_value))
_HANDLER.addFilter(RedactFilter())  # every string field redacted with the SSOT rules, as ops.redact does
_LOG = logging.getLogger("ops.worker")
_LOG.handlers[:] = [_HANDLER]
_LOG.setLevel(logging.INFO)
_LOG.propagate = False


def log(event: str, **fields) -> None:
    """One JSON object per line on stderr: ``{"ts": ..., "event": event, **fields}`` (values JSON can't
    hold are written as str()); every string in it redacted with the SSOT rules (RedactFilter), so a
    secret in an error message or a library's warning never reaches the log."""
    _LOG.info({"event": event, **fields})


@dataclass
class Settings:
    concurrency: int = 4
    batch: int = 10
    lease: float = 30.0
    poll: float = 5.0
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    shutdown_timeout: float = 20.0
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    once: bool = False


class Worker:
    def __init__(self, url: str, settings: Settings, name: str | None = None, listen_url: str | None = None) -> None:
        self.url = url
        self.listen_url = listen_url or url
        self.s = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.metrics = Metrics()
        # No health check on each checkout (it cost a round trip per query): a connection the server
        # dropped fails its next query with OperationalError, the pool discards it on return, and
        # every caller retries or reconnects (_persist, the run loop).
        self.pool = ConnectionPool(url, min_size=1, max_size=settings.concurrency + 3, open=False,
                                   # no server-side prepared statements: a transaction-mode pooler
                                   # (PgBouncer, Supavisor) may hand each call another backend
                                   kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": None,
                                           "application_name": "ops-worker"},
                                   reconnect_timeout=3600)
        # Twice the threads: up to `concurrency` deliveries at once, and as many finished ones waiting
        # for their batch completion (which no longer hold a delivery slot, see _slot_free).
        self.executor = ThreadPoolExecutor(settings.concurrency * 2, thread_name_prefix="deliver")
        self.inflight: dict[int, tuple[int, Future]] = {}  # claimed and not finished: heartbeat, shutdown
        self.delivering: set[int] = set()  # the subset still using a delivery slot
        self.slot_freed = threading.Event()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.last_maintained = float("-inf")
        self.last_auto_resolved = float("-inf")
        self.run_timeout = run_timeout_seconds()
        self.next_due = float("inf")
        self.handlers = handlers()
        self.destinations: dict[str, Destination] = {}
        self.completions = Completions(self._complete_batch)

    # -- database helpers ----------------------------------------------------------------------
    def query(self, name: str, params: dict | None = None, *, subsystem: str = "dispatch") -> list[dict]:
        with self.pool.connection() as conn:
            return execute(conn, subsystem, name, params).fetchall()

    def query_one(self, name: str, params: dict | None = None) -> dict | None:
        rows = self.query(name, params)
        return rows[0] if rows else None

    def _persist(self, name: str, params: dict) -> dict | None:
        """A state change that must not be lost to a database blip: retry for up to a lease (the
        heartbeat keeps the claim alive meanwhile; past that, the reaper gives the job to another)."""
        deadline = time.monotonic() + self.s.lease
        delay = 0.2
        while True:
            try:
                return self.query_one(name, params)
            except psycopg.OperationalError as exc:
                if time.monotonic() + delay > deadline:
                    log("persist_gave_up", query=name, error=str(exc).strip())
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 5)

    def _complete_batch(self, ids: list[int], tokens: list[int], results: list[str | None]) -> set[int] | None:
        """One statement completes a batch (ops.complete_escalations); the ids still held under their
        tokens come back. None when the database stayed unreachable for a lease (_persist)."""
        deadline = time.monotonic() + self.s.lease
        delay = 0.2
        while True:
            try:
                rows = self.query("complete_batch", {"ids": ids, "tokens": tokens, "results": results})
                return {r["id"] for r in rows}
            except psycopg.OperationalError as exc:
                if time.monotonic() + delay > deadline:
                    log("persist_gave_up", query="complete_batch", error=str(exc).strip(), ids=ids)
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 5)

    # -- one delivery ----------------------------------------------------------------------------
    def _destination(self, name: str) -> Destination | None:
        if name not in self.destinations:
            self.destinations = {r["name"]: Destination(r["name"], r["kind"], r["config"] or {})
                                 for r in self.query("destinations")}
        return self.destinations.get(name)

    def _seal_digest(self, job: dict) -> dict | None:
        """A digest's final list (ops.seal_page_digest waits for anyone still adding to its window, then
        freezes it); None when the claim was lost."""
        row = self.query_one("seal_page_digest", {"id": job["id"], "token": job["claims"]})
        if row is None or row["payload"] is None:
            return None
        return {**job, "payload": row["payload"], "count_at": row["payload"].get("similar_groups", 0)}

    def process(self, job: dict) -> None:
        job_id, token = job["id"], job["claims"]
        outcome, fail = "delivered", None
        try:
            dest = self._destination(job["destination"])
            if dest is None:
                raise Permanent(f"unknown destination {job['destination']!r} (not in ssot/destinations.yaml)")
            sealed = self._seal_digest(job) if job["reason"] == "digest" else job
            if sealed is None:
                outcome = "fenced"
            else:
                result = self.handlers[dest.kind](sealed, dest, self)
                self._slot_free(job_id)  # the next claim need not wait for this completion's commit
                done = self.completions.complete(job_id, token, json.dumps(result, default=str))
                outcome = "delivered" if done else "fenced"
        except WaitForConfig as exc:
            outcome = "waiting"
            self._persist("record_dispatch_error", {
                "message": str(exc), "code_hint": "ENV.KEY_MISSING",
                "context": json.dumps({"destination": job["destination"], "escalation_id": job_id})})
            delay = max(self.s.backoff_base, backoff.delay(job["claims"], self.s.backoff_base, self.s.backoff_cap))
            fail = {"error": str(exc), "retry_after": delay, "permanent": False, "counts": False}
        except Permanent as exc:
            outcome, fail = "dead", {"error": str(exc), "retry_after": 0, "permanent": True, "counts": True}
        except Retry as exc:
            delay = max(exc.after or 0.0, backoff.delay(job["attempts"] + 1, self.s.backoff_base, self.s.backoff_cap))
            outcome, fail = "retry", {"error": str(exc), "retry_after": delay, "permanent": False, "counts": True}
        except Exception as exc:  # noqa: BLE001 - a bug in a destination must not kill the worker
            log("delivery_crashed", id=job_id, error=repr(exc), trace=traceback.format_exc(limit=5))
            delay = backoff.delay(job["attempts"] + 1, self.s.backoff_base, self.s.backoff_cap)
            outcome, fail = "retry", {"error": f"internal error: {exc!r}", "retry_after": delay,
                                      "permanent": False, "counts": True}
        if fail is not None:
            state = self._persist("fail", {"id": job_id, "token": token, **fail})
            outcome = state["state"] if state and outcome != "waiting" else outcome
            if state and state["state"] == "pending":
                self.next_due = min(self.next_due, time.monotonic() + fail["retry_after"])
        self.metrics.deliveries.labels(job["destination"], outcome).inc()
        log("delivery", id=job_id, claim=token, destination=job["destination"], code=job["code"], outcome=outcome,
            error=(fail or {}).get("error"))

    def _slot_free(self, job_id: int) -> None:
        with self.lock:
            self.delivering.discard(job_id)
        self.slot_freed.set()

    def _done(self, job_id: int, future: Future) -> None:
        self._slot_free(job_id)
        with self.lock:
            self.inflight.pop(job_id, None)
            self.metrics.in_flight.set(len(self.inflight))

    # -- the loop --------------------------------------------------------------------------------
    def drain(self) -> int:
        claimed, backlog = 0, False
        while not self.stopping.is_set():
            self._maybe_maintain()
            with self.lock:
                capacity = self.s.concurrency - len(self.delivering)
                running = bool(self.delivering)
            # Under a backlog (the last claim got all it asked for), claim in batches: wait until half a
            # batch of slots is free rather than claiming one or two at a time (each claim is a commit).
            # Once a claim comes back short the queue is empty, and the next escalation is claimed as
            # soon as any slot is free, so this never delays a new escalation.
            if capacity <= 0 or (backlog and running and capacity < min(self.s.batch, self.s.concurrency) // 2):
                self.slot_freed.wait(timeout=min(self.s.poll, self.s.lease / 2))
                self.slot_freed.clear()
                continue
            asked = min(self.s.batch, capacity)
            jobs = self.query("claim", {"worker": self.name, "max_jobs": asked, "lease": self.s.lease})
            backlog = len(jobs) == asked
            if not jobs:
                break
            for job in jobs:
                self.metrics.latency.observe(max(0.0, float(job["latency_seconds"] or 0)))
                with self.lock:
                    self.delivering.add(job["id"])
                future = self.executor.submit(self.process, job)
                with self.lock:
                    self.inflight[job["id"]] = (job["claims"], future)
                    self.metrics.in_flight.set(len(self.inflight))
                future.add_done_callback(lambda f, i=job["id"]: self._done(i, f))
            claimed += len(jobs)
        return claimed

    def maintain(self) -> None:
        reaped = self.query_one("reap")["reaped"]
        if reaped:
            self.metrics.lease_expiries.inc(reaped)
            log("leases_reaped", count=reaped)
        expired = self.query_one("expire_agent_runs", {"run_timeout": self.run_timeout})["expired"]
        if expired:
            log("agent_runs_expired", count=expired)
        self.metrics.observe_stats(self.query_one("stats"))
        self.last_maintained = time.monotonic()
        self._auto_resolve()

    def _auto_resolve(self) -> None:
        """FixBot auto-resolve (worker/resolutions.py), at most once a minute, when the worker runs in a checkout."""
        root = resolutions.worker_root()
        if root is None or time.monotonic() - self.last_auto_resolved < resolutions.AUTO_RESOLVE_EVERY:
            return
        self.last_auto_resolved = time.monotonic()
        try:
            with self.pool.connection() as conn:
                for r in resolutions.auto_resolve(conn, root, resolutions.quiet_period_seconds(fixbot.Policy.load().data)):
                    log("error_auto_resolved", fingerprint=r["fingerprint"], record=r["path"], resolved_by="fixbot")
        except Exception as exc:  # noqa: BLE001 - never stops delivery; tried again next time
            log("auto_resolve_failed", error=f"{type(exc).__name__}: {exc}")

    def _maybe_maintain(self) -> None:
        if time.monotonic() - self.last_maintained >= self.s.lease / 2:
            self.maintain()

    def _heartbeat(self) -> None:
        # Runs until the process has given back or finished everything, shutdown grace included.
        while not self.finished.wait(self.s.lease / 3):
            with self.lock:
                held = [(i, t) for i, (t, _) in self.inflight.items()]
            if held:
                try:
                    self.query("heartbeat", {"ids": [i for i, _ in held], "tokens": [t for _, t in held],
                                             "lease": self.s.lease})
                except psycopg.OperationalError as exc:
                    log("heartbeat_failed", error=str(exc).strip())

    def _listen(self) -> psycopg.Connection:
        conn = psycopg.connect(self.listen_url, autocommit=True, connect_timeout=10,
                               application_name="ops-worker-listen")
        conn.execute("LISTEN ops_outbox")
        return conn

    def _wait(self, listener: psycopg.Connection) -> bool:
        """Wait up to the poll interval (or until a retry is due) for a notification; True if one came."""
        start = time.monotonic()
        while not self.stopping.is_set():
            remaining = min(start + self.s.poll, self.next_due, self.last_maintained + self.s.lease / 2) - time.monotonic()
            if remaining <= 0:
                return False
            # Short slices keep signals responsive; notifies() raises if the connection died.
            for _ in listener.notifies(timeout=min(remaining, 0.5), stop_after=1):
                return True
        return False

    def run(self) -> int:
        self._install_signals()
        library_log = logging.getLogger("psycopg")
        library_log.handlers[:] = [_HANDLER]
        library_log.propagate = False
        if self.s.metrics_port:
            self.metrics.serve(self.s.metrics_host, self.s.metrics_port)
        self.pool.open(wait=False)
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()
        log("worker_started", worker=self.name, **self.s.__dict__)
        listener, reconnect_delay, last_partitions = None, 0.5, 0.0
        while not self.stopping.is_set():
            try:
                if listener is None or listener.closed:
                    listener = self._listen()
                    log("listening", channel="ops_outbox")
                    reconnect_delay = 0.5
                self.next_due = float("inf")
                self._maybe_maintain()
                claimed = self.drain()
                if time.monotonic() - last_partitions > 3600:
                    self.query("ensure_partitions")
                    last_partitions = time.monotonic()
                if self.s.once:
                    self._wait_inflight(self.s.shutdown_timeout)
                    if not claimed:  # nothing was due any more
                        break
                    continue
                woke = self._wait(listener)
                if not woke:
                    listener.execute("SELECT 1")  # liveness probe of the LISTEN connection
            except psycopg.OperationalError as exc:
                log("database_unavailable", error=str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc),
                    retry_in=reconnect_delay)
                if listener is not None:
                    listener.close()
                listener = None
                self.stopping.wait(reconnect_delay)
                reconnect_delay = min(reconnect_delay * 2, 10)
        return self._shutdown(listener)

    def _wait_inflight(self, timeout: float) -> list[Future]:
        with self.lock:
            running = [f for _, f in self.inflight.values()]
        if running:
            wait(running, timeout=timeout)
        with self.lock:
            return [f for _, f in self.inflight.values()]

    def _shutdown(self, listener) -> int:
        left = self._wait_inflight(self.s.shutdown_timeout)
        with self.lock:
            unfinished = list(self.inflight.items())
        for job_id, (token, _) in unfinished:
            try:
                self.query("release", {"id": job_id, "token": token})
            except psycopg.Error as exc:
                log("release_failed", id=job_id, error=str(exc))
        self.finished.set()
        log("worker_stopped", worker=self.name, released=len(unfinished), unfinished=len(left))
        self.executor.shutdown(wait=False, cancel_futures=True)
        if not left:  # a delivery still running keeps its client; the process exits below anyway
            http.close_all()
        if listener is not None:
            listener.close()
        self.pool.close(timeout=2)
        if left:
            # Threads still inside a delivery would hold the interpreter's exit until they return
            # (up to a runner's timeout); their jobs were given back above, so leave now.
            sys.stderr.flush()
            os._exit(0)
        return 0

    def _install_signals(self) -> None:
        def handler(signum, _frame):
            if self.stopping.is_set():
                log("worker_killed", signal=signum)
                os._exit(128 + signum)
            log("worker_stopping", signal=signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def run_timeout_seconds() -> float:
    """The FixBot policy's run_timeout (e.g. ``6h``): how long a dispatched run may go without a result."""
    value = str(fixbot.Policy.load().data.get("run_timeout", "6h"))
    return timeflags.duration_seconds(value, "ssot/agents/fixbot_policy.yaml: run_timeout")
