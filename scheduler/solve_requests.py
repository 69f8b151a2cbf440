"""Solve requests: the durable queue between whoever asks for a solve and the worker.

A repair request is debounced: changes to a plan fold into its one pending repair, whose
`due_at` is the time of the last change; the worker waits the configured debounce after it.
Other requests run once `due_at` has passed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from scheduler.errors import Conflict, NotFound
from scheduler.tables import Plan, ScheduleVersion, SolveRequest

Purpose = Literal["repair", "nightly", "draft", "what_if"]
Mode = Literal["optimise", "repair"]
_TRIGGER_CHARS = 2000


def request_solve(
    session: Session,
    plan_id: int,
    *,
    now: dt.datetime,
    purpose: Purpose = "draft",
    mode: Mode = "optimise",
    requested_by: str | None = None,
    trigger: str | None = None,
    seed: int | None = None,
    time_limit: float | None = None,
    workers: int | None = None,
    rerun_of: int | None = None,
) -> SolveRequest:
    """Queue a solve of the plan for the worker; its result waits as a draft unless
    `purpose` lets it publish on its own ("repair", "nightly")."""
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"plan {plan_id}")
    request = SolveRequest(
        plan_id=plan_id,
        mode=mode,
        purpose=purpose,
        trigger=trigger or f"requested by {requested_by or 'someone'}",
        requested_by=requested_by,
        status="pending",
        attempts=0,
        rerun_of=rerun_of,
        seed=seed,
        time_limit=time_limit,
        workers=workers,
        created_at=now,
        due_at=now,
        updated_at=now,
    )
    session.add(request)
    session.flush()
    return request


def request_repair(
    session: Session, plan_id: int, trigger: str, *, now: dt.datetime
) -> SolveRequest | None:
    """Ask for a repair after a change, folding into the pending one (None: nothing published
    yet, so there is nothing to repair)."""
    published = session.scalar(
        select(ScheduleVersion.id).where(ScheduleVersion.plan_id == plan_id).limit(1)
    )
    if published is None:
        return None
    pending = session.scalar(
        select(SolveRequest).where(
            SolveRequest.plan_id == plan_id,
            SolveRequest.purpose == "repair",
            SolveRequest.status == "pending",
        )
    )
    if pending is None:
        return request_solve(
            session, plan_id, now=now, purpose="repair", mode="repair", trigger=trigger
        )
    pending.trigger = f"{pending.trigger}, {trigger}"[-_TRIGGER_CHARS:]
    pending.due_at = now
    pending.updated_at = now
    return pending


def due_requests(
    session: Session, *, now: dt.datetime, debounce: dt.timedelta
) -> list[SolveRequest]:
    """Pending requests the worker may start now, oldest first."""
    query = (
        select(SolveRequest)
        .where(
            SolveRequest.status == "pending",
            or_(
                and_(SolveRequest.purpose == "repair", SolveRequest.due_at <= now - debounce),
                and_(SolveRequest.purpose != "repair", SolveRequest.due_at <= now),
            ),
        )
        .order_by(SolveRequest.id)
    )
    return list(session.scalars(query))


def get_request(session: Session, request_id: int) -> SolveRequest:
    request = session.get(SolveRequest, request_id)
    if request is None:
        raise NotFound(f"solve request {request_id}")
    return request


def list_requests(session: Session, plan_id: int, *, limit: int = 100) -> list[SolveRequest]:
    """A plan's requests, newest first."""
    query = (
        select(SolveRequest)
        .where(SolveRequest.plan_id == plan_id)
        .order_by(SolveRequest.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def cancel_request(session: Session, request_id: int, *, now: dt.datetime) -> SolveRequest:
    """Withdraw a waiting request at once, or ask the worker to stop a running one (it stops
    within one search step, records what it had and publishes nothing)."""
    request = get_request(session, request_id)
    if request.status == "pending":
        request.status = "cancelled"
    elif request.status == "running":
        request.status = "cancelling"
    elif request.status != "cancelling":
        raise Conflict(f"solve request {request_id} is {request.status}: nothing to cancel")
    request.updated_at = now
    return request


def cancel_requested(session: Session, request_id: int) -> bool:
    """Whether a planner asked to stop this running request."""
    request = session.get(SolveRequest, request_id)
    return request is not None and request.status == "cancelling"
