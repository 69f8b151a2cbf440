"""Solve requests: ask the worker for a solve (202), poll it, follow it as server-sent events,
cancel it while it waits. Nothing is solved inside a request."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dependencies import (
    NowDep,
    PlanDep,
    PrincipalDep,
    SessionDep,
    SolveRequestDep,
    Wiring,
    WiringDep,
)
from api.errors import error_responses
from api.schemas import SolveRequestIn, SolveRequestOut
from scheduler import solve_requests
from scheduler.errors import Conflict
from scheduler.tables import SolveRequest, SolveRun
from scheduler.versions import latest_version

router = APIRouter(tags=["solving"], responses=error_responses(401, 403, 404, 422))
FINISHED = ("done", "failed", "cancelled")
POLL_SECONDS = 1.0
FOLLOW_SECONDS = 900.0  # then the stream ends; EventSource clients reconnect on their own


def request_out(session: Session, request: SolveRequest) -> SolveRequestOut:
    run = session.scalar(
        select(SolveRun).where(SolveRun.request_id == request.id).order_by(SolveRun.id.desc())
    )
    return SolveRequestOut.of(request, run)


@router.post(
    "/plans/{plan_id}/solve-requests",
    status_code=202,
    summary="Ask for a solve",
    responses=error_responses(409),
)
def request_solve(
    plan: PlanDep,
    asked: SolveRequestIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> SolveRequestOut:
    """The worker solves it soon, outside any request: poll the Location, or follow its
    events. A draft waits for a planner to publish it; a what-if is never published."""
    if asked.mode == "repair" and latest_version(session, plan.id) is None:
        raise Conflict("nothing is published yet to repair: ask for mode optimise")
    found = solve_requests.request_solve(
        session,
        plan.id,
        now=now,
        purpose=asked.purpose,
        mode=asked.mode,
        requested_by=principal.actor,
        seed=asked.seed,
        time_limit=asked.time_limit,
        workers=asked.workers,
    )
    response.headers["Location"] = f"/solve-requests/{found.id}"
    return SolveRequestOut.of(found, None)


@router.get("/plans/{plan_id}/solve-requests", summary="The plan's solve requests, newest first")
def list_solve_requests(
    plan: PlanDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[SolveRequestOut]:
    return [
        request_out(session, r) for r in solve_requests.list_requests(session, plan.id, limit=limit)
    ]


@router.get("/solve-requests/{request_id}", summary="A solve request and its latest run")
def read_solve_request(found: SolveRequestDep, session: SessionDep) -> SolveRequestOut:
    return request_out(session, found)


@router.post(
    "/solve-requests/{request_id}/cancel",
    summary="Cancel a solve request (a running solve stops within one search step)",
    responses=error_responses(409),
)
def cancel_solve_request(
    found: SolveRequestDep, session: SessionDep, now: NowDep
) -> SolveRequestOut:
    """A waiting request is withdrawn at once; a running one becomes "cancelling" and the worker
    stops it within one search step, keeps its run for the record and publishes nothing (409
    once the request has finished)."""
    return request_out(session, solve_requests.cancel_request(session, found.id, now=now))


@router.get(
    "/solve-requests/{request_id}/events",
    response_class=EventSourceResponse,
    summary="Follow a solve request as server-sent events",
)
async def follow_solve_request(
    found: SolveRequestDep, wiring: WiringDep
) -> AsyncIterator[ServerSentEvent]:
    """A `status` event now and at every change, until the request is done, failed or
    cancelled (then the stream ends)."""
    request_id, last, started = found.id, None, time.monotonic()
    while time.monotonic() - started < FOLLOW_SECONDS:
        current = await run_in_threadpool(_snapshot, wiring, request_id)
        if current != last:
            yield ServerSentEvent(data=current, event="status", id=str(current.updated_at))
            last = current
        if current.status in FINISHED:
            return
        await anyio.sleep(POLL_SECONDS)


def _snapshot(wiring: Wiring, request_id: int) -> SolveRequestOut:
    with wiring.sessions.begin() as session:
        return request_out(session, solve_requests.get_request(session, request_id))
