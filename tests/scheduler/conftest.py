"""Fixtures of the scheduler tests: a migrated database, its sessions, and a worker runtime
on a fake clock (1 February 2027, a month before the test plans start)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from scheduler.database import make_engine, make_sessions, upgrade
from scheduler.runtime import Runtime
from tests.scheduler.factories import FakeClock, make_settings


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a freshly migrated database (SQLite, and PostgreSQL when configured)."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        yield make_sessions(engine)
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2027, 2, 1, 8, 0, tzinfo=dt.UTC))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path / "outbox")


@pytest.fixture
def rt(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    """A worker's runtime on a migrated database; tests call its jobs by hand."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    runtime = Runtime(engine, make_sessions(engine), settings, httpx.Client(timeout=5), clock)
    try:
        yield runtime
    finally:
        runtime.close()
