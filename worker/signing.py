"""Webhook signatures: what the worker's webhook destination sends and what receivers check.

Headers::

    X-Ops-Timestamp: <unix seconds>
    X-Ops-Delivery:  <delivery id: 1-128 of A-Z a-z 0-9 _ ->
    X-Ops-Signature: v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<raw body>")>

The delivery id may not contain ".", so the signed string splits one way only. A receiver refuses a
timestamp further than ``tolerance`` seconds from its clock (either way). ``X-Ops-Signature`` may carry
several comma-separated ``v1=`` values (secret rotation); one match is enough.

Replay versus re-delivery: the sender re-delivers the same delivery id after a crash or a failed
attempt, and signs every attempt afresh (``sign`` never gives one delivery id the same timestamp twice
in a process). So a receiver that remembers what it accepted (:class:`ReplayCache`) can tell

* the same delivery id with a timestamp it already accepted: a byte-identical copy of a request it
  has seen, i.e. a replay -> ``SignatureInvalid("replayed")``;
* the same delivery id with a new, valid, fresh signature: the sender re-delivering ->
  ``Delivery.duplicate`` is True; acknowledge it (2xx) without processing it again.

supabase/functions/_shared/signing.ts is the same scheme in TypeScript.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

TIMESTAMP = "X-Ops-Timestamp"
DELIVERY = "X-Ops-Delivery"
SIGNATURE = "X-Ops-Signature"
VERSION = "v1"
DEFAULT_TOLERANCE = 300
DELIVERY_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class SignatureInvalid(Exception):
    """The request is not a genuine, fresh delivery. ``reason`` is one of the short names below."""

    REASONS = ("missing_header", "bad_delivery_id", "bad_timestamp", "expired", "bad_signature", "replayed")

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    """A verified delivery. ``duplicate``: this delivery id was already accepted with another timestamp
    (the sender re-delivered it); acknowledge it without processing it again."""

    delivery_id: str
    timestamp: int
    duplicate: bool = False


class ReplayCache:
    """Delivery ids accepted recently, with the timestamps they were accepted with, each id remembered
    until its latest timestamp leaves the window.

    In memory and per process: it stops replays at one receiver; the timestamp tolerance bounds what
    a replay to another process could do. Bounded: past ``max_entries`` ids the oldest are forgotten.
    Only verified deliveries enter it, so a forger cannot fill it.
    """

    NEW, DUPLICATE, REPLAYED = "new", "duplicate", "replayed"

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[str, tuple[float, frozenset[int]]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, delivery_id: str, timestamp: int, expires_at: float, now: float) -> str:
        """Record one verified delivery: NEW (first time), DUPLICATE (the id again, with a timestamp not
        seen before) or REPLAYED (the id again with a timestamp already accepted)."""
        with self._lock:
            while self._seen:
                oldest, (when, _) = next(iter(self._seen.items()))
                if when > now and len(self._seen) < self.max_entries:
                    break
                del self._seen[oldest]
            # expiry times are not monotonic in insertion order, so check the id's own expiry too
            when, stamps = self._seen.get(delivery_id, (0.0, frozenset()))
            if when <= now:
                stamps = frozenset()
            if timestamp in stamps:
                return self.REPLAYED
            self._seen[delivery_id] = (max(when, expires_at), stamps | {timestamp})
            self._seen.move_to_end(delivery_id)
            return self.DUPLICATE if stamps else self.NEW

    def __len__(self) -> int:
        return len(self._seen)


def _mac(secret: bytes, timestamp: str, delivery_id: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + delivery_id.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, delivery_id: str, timestamp: int | None = None) -> dict[str, str]:
    """The three headers for one attempt to deliver ``body`` (send the body bytes exactly as signed).
    Without ``timestamp``, each call for the same delivery id gets a later timestamp than the last."""
    if not secret:
        raise ValueError("the webhook secret is empty")
    if not DELIVERY_ID.fullmatch(delivery_id):
        raise ValueError("delivery_id must be 1-128 characters of A-Z a-z 0-9 _ -")
    ts = str(_fresh_timestamp(delivery_id) if timestamp is None else int(timestamp))
    return {TIMESTAMP: ts, DELIVERY: delivery_id, SIGNATURE: f"{VERSION}={_mac(secret, ts, delivery_id, body)}"}


_last_signed: OrderedDict[str, int] = OrderedDict()
_last_signed_lock = threading.Lock()


def _fresh_timestamp(delivery_id: str) -> int:
    """Now, but later than any timestamp this process already signed this delivery id with: a retry
    within the same second must not look like a replay to the receiver."""
    now = int(time.time())
    with _last_signed_lock:
        ts = max(now, _last_signed.get(delivery_id, now - 1) + 1)
        _last_signed[delivery_id] = ts
        _last_signed.move_to_end(delivery_id)
        while len(_last_signed) > 10_000:
            _last_signed.popitem(last=False)
    return ts


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; HTTP header names are not
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value.strip() if isinstance(value, str) else None


def verify(secret: bytes, body: bytes, headers: Mapping[str, str], *, tolerance: int = DEFAULT_TOLERANCE,
           now: float | None = None, seen: ReplayCache | None = None) -> Delivery:
    """The delivery, if the headers sign ``body`` with ``secret`` freshly (and, with ``seen``, are not a
    replay); else raise :class:`SignatureInvalid`. The comparison is constant-time. With ``seen``, a
    re-delivery of an id already accepted comes back with ``duplicate=True``."""
    if not secret:
        raise ValueError("the webhook secret is empty")
    now = time.time() if now is None else now
    ts, delivery_id, signature = (_header(headers, h) for h in (TIMESTAMP, DELIVERY, SIGNATURE))
    for name, value in ((TIMESTAMP, ts), (DELIVERY, delivery_id), (SIGNATURE, signature)):
        if not value:
            raise SignatureInvalid("missing_header", f"{name} header is missing")
    if not DELIVERY_ID.fullmatch(delivery_id):
        raise SignatureInvalid("bad_delivery_id", f"{DELIVERY} must be 1-128 characters of A-Z a-z 0-9 _ -")
    if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
        raise SignatureInvalid("bad_timestamp", f"{TIMESTAMP} must be unix seconds")
    if abs(now - int(ts)) > tolerance:
        raise SignatureInvalid("expired", f"{TIMESTAMP} is more than {tolerance}s from the receiver's clock")
    expected = _mac(secret, ts, delivery_id, body)
    matched = False
    for part in signature.split(","):
        version, _, value = part.strip().partition("=")
        if version == VERSION and _HEX64.fullmatch(value):
            # compare every candidate, so the time taken does not say which one matched
            matched |= hmac.compare_digest(value, expected)
    if not matched:
        raise SignatureInvalid("bad_signature", f"{SIGNATURE} does not match the body")
    state = ReplayCache.NEW if seen is None else seen.remember(delivery_id, int(ts), int(ts) + tolerance, now)
    if state == ReplayCache.REPLAYED:
        raise SignatureInvalid("replayed", f"delivery {delivery_id} with timestamp {ts} was already received "
                                           "(a replay: a re-delivery is signed afresh)")
    return Delivery(delivery_id, int(ts), duplicate=state == ReplayCache.DUPLICATE)
