"""A plan's event log: every change, solve and publication, in order, with who did it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.bodies import INT_MAX
from api.dependencies import PlanDep, SessionDep
from api.errors import error_responses
from api.schemas import EventOut, event_out
from scheduler.events import event_from_record, list_events

router = APIRouter(tags=["events"], responses=error_responses(401, 403, 404, 422))


@router.get("/plans/{plan_id}/events", summary="The plan's events in order")
def read_events(
    plan: PlanDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=INT_MAX, description="Only events after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventOut]:
    records = list_events(session, plan.id, after_id=after, limit=limit)
    return [event_out(r, event_from_record(r).describe()) for r in records]
