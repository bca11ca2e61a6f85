from __future__ import annotations

import psycopg
import pytest

from tests.dbkit import databases


@pytest.fixture(scope="session")
def dbs():
    return databases()


@pytest.fixture
def db_url(dbs):
    """A fresh database (migrated, SSOT synced) for one test."""
    with dbs.clone() as url:
        yield url


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as c:
        yield c


@pytest.fixture(scope="module")
def module_db_url(dbs):
    """One database shared by a module's read-only tests."""
    with dbs.clone("m") as url:
        yield url
