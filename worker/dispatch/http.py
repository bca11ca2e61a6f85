"""A small HTTP client for destinations: POST JSON, and map the answer to an outcome."""

from __future__ import annotations

import email.utils
import json
import socket
import time
import urllib.error
import urllib.request

from worker.dispatch.outcomes import Permanent, Retry
from worker.logsafe import safe_url

TIMEOUT = 15.0


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


def request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = TIMEOUT) -> tuple[int, bytes]:
    """Send a request; return (status, body) for 2xx, raise Retry or Permanent otherwise. The outcome's
    message names the URL by scheme and host only: for a webhook the path is the secret, and the
    message is logged and stored (ops.escalations.last_error)."""
    where = safe_url(url)
    try:
        req = urllib.request.Request(url, data=body, method=method, headers={"User-Agent": "ops-worker", **(headers or {})})
    except ValueError:  # its message quotes the whole URL
        raise Permanent(f"{method} {where}: not a valid http(s) URL") from None
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (URLs come from configuration)
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace").strip()
        message = f"{method} {where} returned {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
        if exc.code == 429:
            raise Retry(message, after=retry_after(exc.headers.get("Retry-After"))) from None
        if exc.code == 408 or exc.code >= 500:
            raise Retry(message, after=retry_after(exc.headers.get("Retry-After"))) from None
        raise Permanent(message) from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Retry(f"{method} {where} failed: {reason}") from None


def post_json(url: str, payload, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return request("POST", url, body, {"Content-Type": "application/json", **(headers or {})})
