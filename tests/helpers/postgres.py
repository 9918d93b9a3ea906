"""A throwaway PostgreSQL server for tests (memory_nodes.memory.repository.pg_server), one per test session,
and the store targets that run a store test against both backends.

    pytest_plugins = ["helpers.postgres"]      # in a test module: pg_server, pg_database, new_pg_url,
                                               # store_target

``store_target`` is parametrized ``sqlite`` | ``postgresql``: a fresh SQLite path or a fresh PostgreSQL
schema URL per test. The postgresql case skips, saying why, where the server binaries or psycopg are
missing (scripts/setup.sh installs both when run as root).
"""
from __future__ import annotations

import itertools

import pytest

from memory_nodes.memory.repository.pg_server import ThrowawayServer, unavailable_reason

_schemas = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server():
    why = unavailable_reason()
    if why:
        pytest.skip(why)
    srv = ThrowawayServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture(scope="session")
def pg_database(pg_server):
    return pg_server.create_database("memory_tests")


def fresh_schema_url(pg_database: str) -> str:
    return f"{pg_database}&schema=t{next(_schemas)}"


@pytest.fixture
def new_pg_url(pg_database):
    """A factory of store URLs, each a new schema on the test server."""
    return lambda: fresh_schema_url(pg_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path):
    """A store location for MemoryCore.open: a new SQLite file, or a new schema on the test server."""
    if request.param == "sqlite":
        return str(tmp_path / "m.db")
    return fresh_schema_url(request.getfixturevalue("pg_database"))
