"""Calendar feeds for subscribers: a secret URL per subscriber that calendar apps poll without
headers (the token reads only its own feed), issued and revoked by planners."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.conditional import conditional_response
from api.dependencies import NowDep, PlanDep, SessionDep, WiringDep
from api.errors import ApiError, error_responses
from api.params import FeedId, FeedToken
from api.routers.calendars import ICS_RESPONSES
from api.schemas import FeedCreated, FeedIn, FeedOut
from scheduler import feeds
from scheduler.plans import get_entity
from solver.problem import Calendar

router = APIRouter(tags=["feeds"])


@router.post(
    "/plans/{plan_id}/feeds",
    status_code=201,
    summary="Issue a feed to a subscriber",
    responses=error_responses(401, 403, 404, 409, 422),
)
def issue_feed(
    plan: PlanDep,
    feed: FeedIn,
    request: Request,
    response: Response,
    session: SessionDep,
    now: NowDep,
) -> FeedCreated:
    """The URL (with its token) is shown once; give each subscriber their own."""
    if Calendar.model_validate(plan.calendar).abstract:
        raise ApiError(409, "an abstract grid has no dates to put in a calendar", kind="no-dates")
    if feed.kind != "plan" and feed.id is not None:
        get_entity(session, plan.id, feed.kind, feed.id)
    row, token = feeds.create_feed_token(session, plan.id, feed.kind, feed.id, now=now)
    response.headers["Location"] = f"/plans/{plan.id}/feeds/{row.id}"
    url = str(request.url_for("read_feed", token=token))
    return FeedCreated(**FeedOut.of(row).model_dump(), token=token, url=url)


@router.get(
    "/plans/{plan_id}/feeds",
    summary="The plan's feeds (without their tokens)",
    responses=error_responses(401, 403, 404, 422),
)
def list_feeds(plan: PlanDep, session: SessionDep) -> list[FeedOut]:
    return [FeedOut.of(row) for row in feeds.list_feed_tokens(session, plan.id)]


@router.delete(
    "/plans/{plan_id}/feeds/{feed_id}",
    status_code=204,
    summary="Revoke a feed",
    responses=error_responses(401, 403, 404, 422),
)
def revoke_feed(
    plan: PlanDep, feed_id: FeedId, session: SessionDep, wiring: WiringDep, now: NowDep
) -> None:
    feeds.revoke_feed_token(session, plan.id, feed_id, now=now)
    wiring.publications.forget_feed(feed_id)


@router.get(
    "/feeds/{token}.ics",
    response_class=Response,
    summary="A subscriber's calendar",
    responses=ICS_RESPONSES | error_responses(404, 409, 422),
)
async def read_feed(token: FeedToken, request: Request, wiring: WiringDep) -> Response:
    """No headers needed: the token in the URL is the credential (revocable)."""
    return conditional_response(request, await wiring.publications.feed(token))
