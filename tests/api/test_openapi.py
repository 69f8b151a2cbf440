"""The OpenAPI document is complete (an example for every body) and the API keeps to it: a
bounded schemathesis run finds no 5xx and no response outside the documented schemas."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine, text

from api.app import create_app
from config import defaults
from scheduler.api_keys import create_api_key
from scheduler.database import upgrade
from scheduler.feeds import create_feed_token
from scheduler.plans import import_problem
from solver.problem import Weights
from solver.solve import solve
from tests.conftest import POSTGRES_ENV, postgres_schema_url
from tests.scheduler.factories import FakeClock, make_problem, make_settings

NOW = dt.datetime(2027, 2, 1, 8, 0, tzinfo=dt.UTC)
# Pydantic's lax coercions (JSON false read as 0, say) stay accepted, so schemathesis' negative
# data check is left out: bad input must be refused with a 4xx, which the others see to.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database for the whole run: SQLite, and PostgreSQL (its NULs and 32-bit integers)
    when OFFSEASON_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'offseason.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_ENV} to run on PostgreSQL")
    schema_name = f"fuzz_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema_name}"'))
        yield postgres_schema_url(base, schema_name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def fuzzed(
    fuzzed_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FastAPI, str]]:
    """The app with one published plan (id 1) and a feed, and an admin key."""
    outbox = tmp_path_factory.mktemp("outbox")
    settings_ = make_settings(fuzzed_url, outbox, embedded_worker=False)
    upgrade(settings_.database_url)
    app = create_app(settings_, FakeClock(NOW))
    problem = make_problem()
    solution = solve(problem, Weights.resolve(defaults.WEIGHTS, problem.weights))
    with TestClient(app):
        with app.state.wiring.sessions.begin() as session:
            plan = import_problem(
                session, problem.model_copy(update={"previous": solution.placements}), now=NOW
            )
            create_feed_token(session, plan.id, "trainer", "t-1", now=NOW)
            _, key = create_api_key(session, "fuzz", role="admin", now=NOW)
        yield app, key


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[FastAPI, str], fuzzed_url: str) -> Any:
    """The schema to fuzz. Its coverage phase (boundary and wrong values of every parameter)
    runs once, on SQLite; PostgreSQL gets the examples and generated cases."""
    sqlite = fuzzed_url.startswith("sqlite")
    coverage: dict[str, Any] = {"unexpected-methods": []} if sqlite else {"enabled": False}
    config = SchemathesisConfig.from_dict({"phases": {"coverage": coverage}})
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed[0], config=config)


# Deleting the plan or revoking the key would leave the rest of the run nothing to reach (both
# are tested on their own).
schema = schemathesis.pytest.from_fixture("api_schema").exclude(
    method="DELETE", path=["/plans/{plan_id}", "/api-keys/{key_id}"]
)


@schema.parametrize()
@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_schema(case: Any, fuzzed: tuple[FastAPI, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzzed[1]}"}, checks=CHECKS)


def test_every_request_body_has_an_example(fuzzed: tuple[FastAPI, str]) -> None:
    document = fuzzed[0].openapi()
    components = document["components"]["schemas"]
    missing, bodies = [], 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            bodies += 1
            ref = body["schema"].get("$ref", "").rsplit("/", 1)[-1]
            if not (
                body.get("examples")
                or body.get("example")
                or components.get(ref, {}).get("examples")
            ):
                missing.append(f"{method.upper()} {path}")
    assert missing == [] and bodies >= 25
