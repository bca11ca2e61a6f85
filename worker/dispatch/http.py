"""The destinations' HTTP client: httpx, one pooled client per destination, and the answer mapped to an
outcome (2xx: the answer; 408, 429, 5xx and transport failures: Retry; any other status: Permanent).

Each destination (by its name in ssot/destinations.yaml) gets one ``httpx.Client``: HTTP/1.1 with
keep-alive (connections idle up to ``KEEPALIVE_SECONDS`` are reused), at most ``MAX_CONNECTIONS`` at
once, ``TIMEOUT`` seconds for connecting, each read and each write, redirects followed (as urllib did).
The worker closes every client on shutdown (:func:`close_all`).
"""

from __future__ import annotations

import email.utils
import json
import threading
import time

import httpx

from worker.dispatch.outcomes import Permanent, Retry
from worker.logsafe import safe_url
from worker.redaction import redact

TIMEOUT = 15.0  # seconds: connect, each read, each write, and waiting for a pooled connection
MAX_CONNECTIONS = 16  # per destination; the worker's --concurrency bounds what is used
KEEPALIVE_SECONDS = 30.0

_clients: dict[str, httpx.Client] = {}
_lock = threading.Lock()


def client(destination: str) -> httpx.Client:
    """The pooled client of one destination, created on first use."""
    with _lock:
        c = _clients.get(destination)
        if c is None or c.is_closed:
            c = _clients[destination] = httpx.Client(
                http1=True, http2=False, timeout=httpx.Timeout(TIMEOUT), follow_redirects=True,
                limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS,
                                    keepalive_expiry=KEEPALIVE_SECONDS),
                headers={"User-Agent": "ops-worker"})
        return c


def close_all() -> None:
    """Close every destination's client and its connections (worker shutdown)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for c in clients:
        c.close()


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, *,
            destination: str) -> tuple[int, bytes]:
    """Send a request on ``destination``'s pooled client; return (status, body) for 2xx, raise Retry
    (408, 429, 5xx, a connection or timeout failure; with the server's Retry-After) or Permanent. The
    outcome's message names the URL by scheme and host only: for a webhook the path is the secret, and
    the message is logged and stored (ops.escalations.last_error)."""
    where = safe_url(url)
    try:
        resp = client(destination).request(method, url, content=body, headers=headers)
    except httpx.TransportError as exc:
        detail = redact(str(exc).replace(url, where)) or type(exc).__name__  # never the full URL
        raise Retry(f"{method} {where} failed: {detail}") from None
    except httpx.InvalidURL:  # its message quotes the whole URL
        raise Permanent(f"{method} {where}: not a valid http(s) URL") from None
    if 200 <= resp.status_code < 300:
        return resp.status_code, resp.content
    detail = resp.content[:500].decode("utf-8", "replace").strip()
    message = f"{method} {where} returned {resp.status_code} {resp.reason_phrase}" + (f": {detail}" if detail else "")
    if resp.status_code in (408, 429) or resp.status_code >= 500:
        raise Retry(message, after=retry_after(resp.headers.get("Retry-After")))
    raise Permanent(message)


def post_json(url: str, payload, headers: dict[str, str] | None = None, *, destination: str) -> tuple[int, bytes]:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return request("POST", url, body, {"Content-Type": "application/json", **(headers or {})}, destination=destination)
