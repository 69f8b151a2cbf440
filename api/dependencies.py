"""What routes receive: the settings, the clock, a database session per request, the caller's
key, and the plan a path names (looked up, and checked against the key, in one place)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.access import READ_METHODS, Principal
from api.conditional import Remembered, RepresentationCache
from api.errors import ApiError
from api.params import PlanId, RequestId, RunId
from api.published import Publications
from config.settings import Settings
from scheduler.api_keys import token_hash, verify_api_key
from scheduler.clock import Clock
from scheduler.plans import get_plan
from scheduler.runs import get_run
from scheduler.solve_requests import get_request
from scheduler.tables import Plan, SolveRequest, SolveRun

if TYPE_CHECKING:
    from scheduler.worker import EmbeddedWorker


@dataclass
class Wiring:
    """What the lifespan builds once for the process; routes reach it through dependencies."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    keys: Remembered[str, Principal | None]
    publications: Publications
    representations: RepresentationCache
    worker: EmbeddedWorker | None = None


async def wiring_of(request: Request) -> Wiring:
    wiring: Wiring = request.app.state.wiring
    return wiring


WiringDep = Annotated[Wiring, Depends(wiring_of)]


async def settings_of(wiring: WiringDep) -> Settings:
    return wiring.settings


async def now_of(wiring: WiringDep) -> dt.datetime:
    return wiring.clock()


def session_of(wiring: WiringDep, request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (scope
    "function"), so that a failed commit is an error response, never a false success. What
    this process changes, its readers see at once."""
    with wiring.sessions.begin() as session:
        yield session
    if request.method not in READ_METHODS:
        wiring.publications.changed()


SettingsDep = Annotated[Settings, Depends(settings_of)]
NowDep = Annotated[dt.datetime, Depends(now_of)]
SessionDep = Annotated[Session, Depends(session_of, scope="function")]

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key.")


async def principal_of(
    wiring: WiringDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(key_header)],
) -> Principal:
    """The caller, from its API key. Verified keys are remembered for a few seconds, so that
    most requests cost no key lookup (and no `last_used_at` write); a key revoked through this
    process stops at once, through another within those seconds."""
    key = header_key or (credentials.credentials if credentials else None)
    if not key:
        raise ApiError(
            401,
            "send an API key (Authorization: Bearer <key>)",
            kind="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await wiring.keys.get(token_hash(key), partial(_verify, wiring, key))
    if principal is None:
        raise ApiError(
            401,
            "unknown or revoked API key",
            kind="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def _verify(wiring: Wiring, key: str) -> Principal | None:
    with wiring.sessions.begin() as session:
        row = verify_api_key(session, key, now=wiring.clock())
        return Principal.of(row.id, row.name, row.role) if row is not None else None


PrincipalDep = Annotated[Principal, Depends(principal_of)]


def plan_of(
    plan_id: PlanId, request: Request, principal: PrincipalDep, session: SessionDep
) -> Plan:
    """The plan the path names, if the caller's key may read it (or, for writes, change it)."""
    principal.check_plan(plan_id, request.method)
    return get_plan(session, plan_id)


PlanDep = Annotated[Plan, Depends(plan_of)]


async def require_admin(principal: PrincipalDep) -> Principal:
    principal.require("admin")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def solve_request_of(
    request_id: RequestId, request: Request, principal: PrincipalDep, session: SessionDep
) -> SolveRequest:
    """The solve request the path names, if the key may reach its plan."""
    found = get_request(session, request_id)
    principal.check_plan(found.plan_id, request.method)
    return found


def run_of(
    run_id: RunId, request: Request, principal: PrincipalDep, session: SessionDep
) -> SolveRun:
    """The run the path names, if the key may reach its plan."""
    found = get_run(session, run_id)
    principal.check_plan(found.plan_id, request.method)
    return found


SolveRequestDep = Annotated[SolveRequest, Depends(solve_request_of)]
RunDep = Annotated[SolveRun, Depends(run_of)]
