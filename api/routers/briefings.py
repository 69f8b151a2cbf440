"""Briefings: a unit's digest of what was held, what comes, what changed and how well its
cohorts are covered; on demand, or produced and sent to the unit."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api.dependencies import NowDep, PlanDep, SessionDep, SettingsDep
from api.errors import error_responses
from api.params import UnitKey
from api.schemas import BriefingOut
from scheduler import briefing
from scheduler.briefing import UnitBriefing

router = APIRouter(
    prefix="/plans/{plan_id}", tags=["briefings"], responses=error_responses(401, 403, 404, 422)
)
AheadDays = Annotated[int | None, Query(ge=0, le=366, description="Default: the service's.")]


@router.get("/units/{key}/briefing", summary="A unit's briefing, as of now")
def read_briefing(
    plan: PlanDep,
    key: UnitKey,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    ahead_days: AheadDays = None,
    since: Annotated[
        dt.datetime | None,
        Query(description="Changes published after this (default: the unit's last briefing)."),
    ] = None,
) -> UnitBriefing:
    ahead = settings.briefing_ahead_days if ahead_days is None else ahead_days
    since_utc = since.astimezone(dt.UTC) if since is not None else None
    return briefing.build_briefing(
        session, plan.id, key, now=now, ahead_days=ahead, since=since_utc
    )


@router.post(
    "/units/{key}/briefings",
    status_code=201,
    summary="Produce a unit's briefing and send it to the unit",
)
def produce_briefing(
    plan: PlanDep,
    key: UnitKey,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    ahead_days: AheadDays = None,
) -> BriefingOut:
    ahead = settings.briefing_ahead_days if ahead_days is None else ahead_days
    row = briefing.produce_briefing(session, plan.id, key, now=now, ahead_days=ahead)
    session.flush()
    return BriefingOut.of(row)


@router.get("/briefings", summary="Briefings produced, newest first")
def list_briefings(
    plan: PlanDep,
    session: SessionDep,
    unit: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> list[BriefingOut]:
    return [BriefingOut.of(b) for b in briefing.list_briefings(session, plan.id, unit=unit)]
