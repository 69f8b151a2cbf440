"""Fixtures of the API tests: the app on a migrated database (SQLite, and PostgreSQL when
configured) with the worker left out, so that a test runs the worker's job itself on a fake
clock; and clients holding an admin's, a planner's and a viewer's key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.access import Role, issue_key
from api.app import create_app
from config.settings import Settings
from scheduler.database import make_engine, make_sessions, upgrade
from scheduler.jobs import solve_pending_requests
from scheduler.runtime import Runtime
from tests.scheduler.factories import FakeClock, make_problem, make_settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2027, 2, 1, 8, 0, tzinfo=dt.UTC))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path / "outbox", embedded_worker=False)


@pytest.fixture
def rt(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    """The worker's runtime on the app's database: `run_worker(rt)` solves what is due."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    runtime = Runtime(engine, make_sessions(engine), settings, httpx.Client(timeout=5), clock)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture
def app(settings: Settings, clock: FakeClock, rt: Runtime) -> FastAPI:
    return create_app(settings, clock)


@dataclass
class Clients:
    """One started app, and a client per role (plus one without a key)."""

    anonymous: TestClient
    admin: TestClient
    planner: TestClient
    viewer: TestClient
    keys: dict[str, str]

    def key_for(self, role: Role, plan_id: int | None = None, name: str = "test") -> str:
        with self.anonymous.app.state.wiring.sessions.begin() as session:  # type: ignore[attr-defined]
            _, key = issue_key(session, name, role, plan_id, now=dt.datetime.now(dt.UTC))
        return key

    def client(self, key: str) -> TestClient:
        return TestClient(self.anonymous.app, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def clients(app: FastAPI) -> Iterator[Clients]:
    with TestClient(app) as anonymous:
        made = Clients(anonymous, anonymous, anonymous, anonymous, {})
        for role in ("admin", "planner", "viewer"):
            made.keys[role] = made.key_for(role, name=role)
        made.admin = made.client(made.keys["admin"])
        made.planner = made.client(made.keys["planner"])
        made.viewer = made.client(made.keys["viewer"])
        yield made


def run_worker(rt: Runtime) -> list[int]:
    """What the worker would do now: solve every due request; the ids of the runs made."""
    return solve_pending_requests(rt)


def problem_json() -> dict[str, object]:
    """The scheduler tests' two-week plan (three courses, solves in well under a second)."""
    return make_problem().model_dump(mode="json")


def published_plan(clients: Clients, rt: Runtime) -> int:
    """A plan imported, solved and published as version 1 through the API; its id."""
    plan_id: int = clients.planner.post("/plans", json=problem_json()).json()["id"]
    asked = clients.planner.post(f"/plans/{plan_id}/solve-requests", json={})
    assert asked.status_code == 202, asked.text
    (run_id,) = run_worker(rt)
    published = clients.planner.post(f"/plans/{plan_id}/versions", json={"run": run_id})
    assert published.status_code == 201, published.text
    return plan_id
