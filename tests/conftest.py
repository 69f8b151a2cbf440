"""Shared fixtures: `db_url`, a fresh database on SQLite always and on PostgreSQL when
OFFSEASON_TEST_DATABASE_URL is set (each test in a schema of its own, dropped afterwards);
the solver's compiled moves compiled before the first test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

POSTGRES_ENV = "OFFSEASON_TEST_DATABASE_URL"


@pytest.fixture(scope="session", autouse=True)
def compiled_search() -> None:
    """The solver's compiled moves, compiled once before any test times a solve (about 40 s
    on a fresh clone, a second from numba's cache after)."""
    from solver.kernel import warm

    warm()


def postgres_schema_url(base: str, schema: str) -> str:
    """`base` with every connection's search_path set to `schema` (subprocesses included)."""
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'offseason.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_ENV} to run on PostgreSQL")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield postgres_schema_url(base, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
