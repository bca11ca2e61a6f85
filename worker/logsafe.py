"""Secrets kept out of logs and printed output.

* :func:`redact_value` applies the SSOT redaction rules (``ssot/errors/redaction.yaml``, the same rules
  as ``ops.redact`` in SQL, through :func:`worker.redaction.redact`) to every string in a value, nested
  dicts, lists and tuples included; :class:`RedactFilter` does it to every log record it sees.
* :func:`safe_url` is all of a destination URL that may be logged or stored: scheme and host (for a
  Slack or Discord webhook, the path is the secret).
* :func:`mask_password` hides the password of a database URI or libpq ``key=value`` string.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

from worker.redaction import redact

MASK = "***"


def redact_value(value):
    """``value`` with every string in it redacted (dict keys kept); other values unchanged."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v) for v in value)
    return value


class RedactFilter(logging.Filter):
    """A logging filter that redacts a record's message (a string or a dict of fields) and its
    arguments in place; it never drops a record. Attach it to every handler that writes logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_value(record.msg)
        if record.args:
            record.args = redact_value(record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def safe_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (no user, password, path, query or fragment); ``<invalid URL>``
    when it has no scheme or host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not host:
        return "<invalid URL>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_password(dsn: str) -> str:
    """The connection string with its password replaced by ``***``: a URI's ``user:password@`` (and a
    ``password=`` query parameter) or a libpq ``password=...`` keyword. Anything else is unchanged."""
    if "://" not in dsn:
        return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + MASK, dsn)
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return redact(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        if ":" in creds:
            netloc = f"{creds.split(':', 1)[0]}:{MASK}@{host}"
    query = re.sub(r"(^|&)(password=)[^&]*", lambda m: m.group(1) + m.group(2) + MASK, parts.query, flags=re.I)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
