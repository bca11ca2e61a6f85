"""Connections: ``DATABASE_URL`` when set, else the embedded cluster (worker.cluster), started on demand.
The migration runner is worker.migrations."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from worker.cluster import Cluster
from worker.errors import Unavailable, Usage
from worker.logsafe import mask_password


def database_url(*, start: bool = True) -> str:
    """The URL in use: ``DATABASE_URL``, or the embedded cluster (started on demand)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        check_url(url)
        return url
    cluster = Cluster.default()
    if start:
        cluster.init()
        cluster.start()
    return cluster.url()


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(url or database_url(), connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise Unavailable(f"database unavailable: {str(exc).strip().splitlines()[0]}") from exc


def check_url(url: str, name: str = "DATABASE_URL") -> None:
    """Raise :class:`Usage` (exit 2) naming the part of ``url`` that is wrong: the scheme (postgresql://
    or postgres://), the port (1..65535), the host, or what libpq itself refuses. The message shows the URL
    with its password masked, never the password."""
    shown = mask_password(url)
    password = None

    def fail(part: str) -> None:
        raise Usage(f"{name} is malformed: {part} ({name}={shown})", field=name)

    if "://" in url or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url) and "=" not in url.split(" ", 1)[0]:
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            fail(f"it is not a URI: {exc}")
        password = parts.password
        if parts.scheme not in ("postgresql", "postgres"):
            fail(f"the scheme {parts.scheme + '://' if parts.scheme else '(none)'} is not postgresql:// or postgres://")
        for hostport in (parts.netloc.rsplit("@", 1)[-1] or "").split(","):
            port = hostport.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in hostport.rsplit("]", 1)[-1] else ""
            if port and not (port.isdigit() and 0 < int(port) < 65536):
                fail(f"the port {port!r} is not a number from 1 to 65535")
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "libpq cannot parse it"
        if password:
            reason = reason.replace(password, "***")
        fail(reason)
