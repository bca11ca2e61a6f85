"""The destinations' HTTP client: urllib3, one connection pool per destination, and the answer mapped to
an outcome (2xx: the answer; 408, 429, 5xx and transport failures: Retry; any other status, a URL that is
not http(s), too many redirects: Permanent).

Each destination (by its name in ssot/destinations.yaml) gets one ``urllib3.PoolManager``: HTTP/1.1 with
keep-alive (a connection is returned to its host's pool after each answer and reused; one the server
has closed is noticed at checkout and replaced), at most ``MAX_CONNECTIONS`` per host at once (a request
waits up to ``TIMEOUT`` seconds for one), ``TIMEOUT`` seconds for connecting and for each read or
write, up to ``MAX_REDIRECTS`` redirects followed (303 turns into GET; Authorization and Cookie headers
are dropped when a redirect leaves the host), TLS verified against the system's trust store
(``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured). No automatic retries: the worker's backoff retries.
The worker closes every pool on shutdown (:func:`close_all`).

Why urllib3 and not httpx: the same signed POST costs about half the client CPU (docs/libraries.md,
bench/_http_clients.py), and the worker's HTTP drain is CPU-bound on two shared cores (bench/README.md).
urllib3 logs URLs with their paths (a webhook's path is its secret): its logger is kept at WARNING and
every URL in its records is cut to scheme and host (:class:`_SchemeAndHostOnly`).
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import threading
import time

import urllib3
from urllib3.exceptions import HTTPError, LocationValueError, MaxRetryError, ResponseError

from worker.dispatch.outcomes import Permanent, Retry
from worker.logsafe import safe_url
from worker.redaction import redact

TIMEOUT = 15.0  # seconds: connect, each read, each write, and waiting for a pooled connection
MAX_CONNECTIONS = 16  # per destination and host; the worker's --concurrency bounds what is used
MAX_REDIRECTS = 20  # as httpx and browsers

_URL = re.compile(r"\bhttps?://[^\s'\"<>)]+")


class _SchemeAndHostOnly(logging.Filter):
    """Rewrites a urllib3 log record so every URL in it shows only scheme and host (logsafe.safe_url)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        record.msg, record.args = _URL.sub(lambda m: safe_url(m.group(0)), text), None
        return True


_LIB_LOG = logging.getLogger("urllib3")
_LIB_LOG.setLevel(logging.WARNING)  # its DEBUG lines name each request's path
_LIB_LOG.addFilter(_SchemeAndHostOnly())
for _name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.connection", "urllib3.response"):
    logging.getLogger(_name).addFilter(_SchemeAndHostOnly())  # a logger's filters do not see its children's records

_RETRIES = urllib3.Retry(total=None, connect=0, read=0, other=0, status=0, redirect=MAX_REDIRECTS,
                         raise_on_redirect=True, raise_on_status=False, respect_retry_after_header=False)

_pools: dict[str, urllib3.PoolManager] = {}
_lock = threading.Lock()


def pool(destination: str) -> urllib3.PoolManager:
    """The connection pools of one destination, created on first use."""
    with _lock:
        p = _pools.get(destination)
        if p is None:
            p = _pools[destination] = urllib3.PoolManager(
                num_pools=8, maxsize=MAX_CONNECTIONS, block=True, retries=_RETRIES,
                timeout=urllib3.Timeout(connect=TIMEOUT, read=TIMEOUT), headers={"User-Agent": "ops-worker"})
        return p


def close_all() -> None:
    """Close every destination's pools and their connections (worker shutdown)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for p in pools:
        p.clear()


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
    """Send a request on ``destination``'s pools; return (status, body) for 2xx, raise Retry (408, 429,
    5xx, a connection, TLS or timeout failure; with the server's Retry-After) or Permanent (another
    status, not an http(s) URL, more than MAX_REDIRECTS redirects). The outcome's message names the URL by
    scheme and host only: for a webhook the path is the secret, and the message is logged and stored
    (ops.escalations.last_error)."""
    where = safe_url(url)
    if where == "<invalid URL>" or not url.lower().startswith(("http://", "https://")):
        raise Permanent(f"{method} {where}: not a valid http(s) URL")
    manager = pool(destination)
    try:
        resp = manager.request(method, url, body=body, headers={**manager.headers, **(headers or {})}, preload_content=True,
                                         pool_timeout=TIMEOUT)
    except MaxRetryError as exc:
        if isinstance(exc.reason, ResponseError):  # too many redirects
            raise Permanent(f"{method} {where}: more than {MAX_REDIRECTS} redirects") from None
        raise Retry(f"{method} {where} failed: {_describe(exc.reason, url, where)}") from None
    except LocationValueError:  # e.g. no host; its message quotes the URL
        raise Permanent(f"{method} {where}: not a valid http(s) URL") from None
    except HTTPError as exc:  # connection refused or reset, TLS, timeouts, a broken answer
        raise Retry(f"{method} {where} failed: {_describe(exc, url, where)}") from None
    if 200 <= resp.status < 300:
        return resp.status, resp.data
    detail = resp.data[:500].decode("utf-8", "replace").strip()
    message = f"{method} {where} returned {resp.status} {resp.reason or ''}".rstrip() + (f": {detail}" if detail else "")
    if resp.status in (408, 429) or resp.status >= 500:
        raise Retry(message, after=retry_after(resp.headers.get("Retry-After")))
    raise Permanent(message)


def _describe(exc: BaseException | None, url: str, where: str) -> str:
    """The failure in words with no URL beyond scheme and host, redacted with the SSOT rules."""
    if exc is None:
        return "connection failed"
    text = _URL.sub(lambda m: safe_url(m.group(0)), str(exc).replace(url, where))
    path = url[len(where):] if url.startswith(where) else ""
    if path not in ("", "/"):
        text = text.replace(path, "")
    text = re.sub(r"<urllib3\.[\w.]+ object at 0x[0-9a-f]+>: ", "", text)
    return redact(text) or type(exc).__name__


def post_json(url: str, payload, headers: dict[str, str] | None = None, *, destination: str) -> tuple[int, bytes]:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return request("POST", url, body, {"Content-Type": "application/json", **(headers or {})}, destination=destination)
