"""Batched, fenced completion: the deliveries a worker finished are marked delivered together, one
statement and one commit per batch (ops.complete_escalations) instead of one commit per job.

Each delivery thread calls :meth:`Completions.complete` and blocks until its batch is written; one
flusher thread takes everything queued since its last write (no timer: while one batch is being
written the next one gathers, so batches grow with load and a lone completion is written at once).
The answer per job is the fence's: True when the row was still held under the token, False when the
claim was lost (another worker holds it now), None when the database stayed unreachable for a whole
lease (the heartbeat keeps the claim meanwhile; after that the reaper gives the job to another worker,
which delivers it again: receivers deduplicate on the delivery id ``esc-<id>``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Pending:
    id: int
    token: int
    result: str | None  # JSON text of what the destination returned
    done: threading.Event = field(default_factory=threading.Event)
    answer: bool | None = None
    error: BaseException | None = None


class Completions:
    """``write(ids, tokens, results) -> set of completed ids, or None after giving up`` does the database
    call (the worker's ``complete_batch`` named query with its retry); ``max_batch`` caps one statement."""

    def __init__(self, write: Callable[[list[int], list[int], list[str | None]], set[int] | None],
                 max_batch: int = 500) -> None:
        self._write = write
        self._max = max_batch
        self._queue: list[_Pending] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="complete", daemon=True)
        self._thread.start()
        self.batches = 0  # statements written (for the benchmark's commits-per-job figure)

    def complete(self, job_id: int, token: int, result: str | None) -> bool | None:
        """Mark one claimed escalation delivered; returns True, False (fenced) or None (database gone)."""
        item = _Pending(job_id, token, result)
        with self._cond:
            self._queue.append(item)
            self._cond.notify()
        item.done.wait()
        if item.error is not None:
            raise item.error
        return item.answer

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                batch, self._queue = self._queue[:self._max], self._queue[self._max:]
            try:
                done = self._write([p.id for p in batch], [p.token for p in batch], [p.result for p in batch])
                self.batches += 1
                for p in batch:
                    p.answer = None if done is None else p.id in done
            except BaseException as exc:  # noqa: BLE001 - handed to each waiting delivery thread
                for p in batch:
                    p.error = exc
            for p in batch:
                p.done.set()
