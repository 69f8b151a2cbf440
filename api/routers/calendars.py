"""Calendars for API clients: a trainer's, unit's, site's or cohort's sessions, or the whole
plan's, as iCalendar (feeds without headers are in `api.routers.feeds`)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response

from api.conditional import conditional_response
from api.dependencies import PrincipalDep, WiringDep
from api.errors import NOT_MODIFIED, error_responses
from api.params import PartyKey, PlanId

router = APIRouter(tags=["calendars"], responses=error_responses(401, 403, 404, 409, 422))
ICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/calendar": {"schema": {"type": "string"}}},
        "description": "An iCalendar (RFC 5545) file.",
    },
    **NOT_MODIFIED,
}
KINDS = {"trainers": "trainer", "units": "unit", "sites": "site", "cohorts": "cohort"}


@router.get(
    "/plans/{plan_id}/calendar.ics",
    response_class=Response,
    responses=ICS_RESPONSES,
    summary="The whole plan's calendar",
)
async def plan_calendar(
    plan_id: PlanId, request: Request, principal: PrincipalDep, wiring: WiringDep
) -> Response:
    principal.check_plan(plan_id, request.method)
    rep = await wiring.publications.calendar(plan_id, "plan", None)
    return conditional_response(request, rep, Vary="Authorization, X-API-Key")


@router.get(
    "/plans/{plan_id}/calendars/{kind}/{party_id}.ics",
    response_class=Response,
    responses=ICS_RESPONSES,
    summary="A trainer's, unit's, site's or cohort's calendar",
)
async def party_calendar(
    plan_id: PlanId,
    kind: Literal["trainers", "units", "sites", "cohorts"],
    party_id: PartyKey,
    request: Request,
    principal: PrincipalDep,
    wiring: WiringDep,
) -> Response:
    principal.check_plan(plan_id, request.method)
    rep = await wiring.publications.calendar(plan_id, KINDS[kind], party_id, known_party=False)
    return conditional_response(request, rep, Vary="Authorization, X-API-Key")
