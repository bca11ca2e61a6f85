"""Connections: ``DATABASE_URL`` when set, else the embedded cluster (worker.cluster), started on demand.

The embedded cluster lives in worker.cluster and the migration runner in worker.migrations; the names
``Cluster``, ``migrate``, ``status`` and ``migrations`` stay importable from here for existing callers.
"""

from __future__ import annotations

import os

import psycopg

from worker.cluster import DATABASE, SUPERUSER, Cluster
from worker.errors import Unavailable
from worker.migrations import migrate, migrations, status

__all__ = ["DATABASE", "SUPERUSER", "Cluster", "connect", "database_url", "migrate", "migrations", "status"]


def database_url(*, start: bool = True) -> str:
    """The URL in use: ``DATABASE_URL``, or the embedded cluster (started on demand)."""
    url = os.environ.get("DATABASE_URL")
    if url:
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
