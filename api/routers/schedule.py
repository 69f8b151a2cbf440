"""The published schedule as JSON for programs: filtered, paged, revalidated with ETags (served
from memory while current, see `api.published`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.bodies import INT_MAX
from api.conditional import conditional_response
from api.dependencies import PrincipalDep, WiringDep
from api.errors import NOT_MODIFIED, error_responses
from api.params import PlanId
from api.published import ScheduleFilter, parse_day
from api.schemas import SchedulePage

router = APIRouter(tags=["schedule"], responses=error_responses(401, 403, 404, 422))
Ids = Annotated[list[str], Query(max_length=100, description="Any of these (repeat the name).")]
DAY = "A date (YYYY-MM-DD); a day number on abstract grids."


@router.get(
    "/plans/{plan_id}/schedule",
    response_model=SchedulePage,
    responses=NOT_MODIFIED,
    summary="The published sessions, filtered and paged",
)
async def read_schedule(
    plan_id: PlanId,
    request: Request,
    principal: PrincipalDep,
    wiring: WiringDep,
    trainer: Ids = [],  # noqa: B006 (FastAPI copies defaults)
    unit: Ids = [],  # noqa: B006
    site: Ids = [],  # noqa: B006
    cohort: Ids = [],  # noqa: B006
    course: Ids = [],  # noqa: B006
    first: Annotated[str | None, Query(alias="from", max_length=10, description=DAY)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10, description=DAY)] = None,
    version: Annotated[
        int | None, Query(ge=1, le=INT_MAX, description="Default: published.")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=INT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Sessions in time order with their clock times; `next` links the next page."""
    principal.check_plan(plan_id, request.method)
    calendar = (await wiring.publications.state(plan_id)).calendar
    wanted = ScheduleFilter(
        tuple(trainer),
        tuple(unit),
        tuple(site),
        tuple(cohort),
        tuple(course),
        parse_day(first, calendar, "from"),
        parse_day(last, calendar, "to"),
    )
    rep = await wiring.publications.schedule(
        plan_id, number=version, wanted=wanted, offset=offset, limit=limit, path=request.url.path
    )
    return conditional_response(request, rep, Vary="Authorization, X-API-Key")
