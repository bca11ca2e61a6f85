"""Webhook signatures: what the worker's webhook destination sends and what receivers check.

Headers::

    X-Ops-Timestamp: <unix seconds>
    X-Ops-Delivery:  <delivery id: 1-128 of A-Z a-z 0-9 _ ->
    X-Ops-Signature: v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<raw body>")>

The delivery id may not contain ".", so the signed string splits one way only. A receiver refuses a
timestamp further than ``tolerance`` seconds from its clock (either way), and a delivery id it has
already accepted within that window (replay). ``X-Ops-Signature`` may carry several comma-separated
``v1=`` values (secret rotation); one match is enough. supabase/functions/_shared/signing.ts is the
same scheme in TypeScript.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

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


class ReplayCache:
    """Delivery ids accepted recently, each remembered until its timestamp leaves the window.

    In memory and per process: it stops replays at one receiver; the timestamp tolerance bounds what
    a replay to another process could do. Bounded: past ``max_entries`` the oldest are forgotten.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_add(self, delivery_id: str, expires_at: float, now: float) -> bool:
        """Remember the id; False if it was already there (and not expired)."""
        with self._lock:
            while self._expiry:
                oldest, when = next(iter(self._expiry.items()))
                if when > now and len(self._expiry) < self.max_entries:
                    break
                del self._expiry[oldest]
            # expiry times are not monotonic in insertion order, so look the id up directly too
            if self._expiry.get(delivery_id, 0.0) > now:
                return False
            self._expiry[delivery_id] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._expiry)


def _mac(secret: bytes, timestamp: str, delivery_id: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + delivery_id.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, delivery_id: str, timestamp: int | None = None) -> dict[str, str]:
    """The three headers for one delivery of ``body`` (send the body bytes exactly as signed)."""
    if not secret:
        raise ValueError("the webhook secret is empty")
    if not DELIVERY_ID.fullmatch(delivery_id):
        raise ValueError("delivery_id must be 1-128 characters of A-Z a-z 0-9 _ -")
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    return {TIMESTAMP: ts, DELIVERY: delivery_id, SIGNATURE: f"{VERSION}={_mac(secret, ts, delivery_id, body)}"}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; HTTP header names are not
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value.strip() if isinstance(value, str) else None


def verify(secret: bytes, body: bytes, headers: Mapping[str, str], *, tolerance: int = DEFAULT_TOLERANCE,
           now: float | None = None, seen: ReplayCache | None = None) -> None:
    """Return if the headers sign ``body`` with ``secret``, freshly and for the first time; else raise
    :class:`SignatureInvalid`. The comparison is constant-time."""
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
    if seen is not None and not seen.check_and_add(delivery_id, int(ts) + tolerance, now):
        raise SignatureInvalid("replayed", f"delivery {delivery_id} was already received")
