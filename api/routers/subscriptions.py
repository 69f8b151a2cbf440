"""Webhook and email subscriptions: where a trainer, unit, site (or anyone following the whole
plan) hears that their sessions changed; and the notifications sent to them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.dependencies import NowDep, PlanDep, SessionDep
from api.errors import error_responses
from api.params import NotificationId, SubscriptionId
from api.schemas import NotificationOut, SubscriptionCreated, SubscriptionIn, SubscriptionOut
from scheduler import notifications, subscriptions
from scheduler.errors import NotFound
from scheduler.plans import get_entity
from scheduler.tables import Notification

router = APIRouter(
    prefix="/plans/{plan_id}",
    tags=["subscriptions"],
    responses=error_responses(401, 403, 404, 422),
)


@router.post("/subscriptions", status_code=201, summary="Subscribe a webhook or email address")
def subscribe(
    plan: PlanDep, asked: SubscriptionIn, response: Response, session: SessionDep, now: NowDep
) -> SubscriptionCreated:
    """A webhook's signing secret is returned this once (a new one unless given)."""
    if asked.party_kind != "plan" and asked.party_id is not None:
        get_entity(session, plan.id, asked.party_kind, asked.party_id)
    row = subscriptions.add_subscription(
        session,
        plan.id,
        channel=asked.channel,
        address=asked.address,
        party_kind=asked.party_kind,
        party_id=asked.party_id,
        secret=asked.secret,
        now=now,
    )
    response.headers["Location"] = f"/plans/{plan.id}/subscriptions/{row.id}"
    return SubscriptionCreated(**SubscriptionOut.of(row).model_dump(), secret=row.secret)


@router.get("/subscriptions", summary="The plan's subscriptions (without secrets)")
def list_subscriptions(plan: PlanDep, session: SessionDep) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in subscriptions.list_subscriptions(session, plan.id)]


@router.get("/subscriptions/{subscription_id}", summary="One subscription")
def read_subscription(
    plan: PlanDep, subscription_id: SubscriptionId, session: SessionDep
) -> SubscriptionOut:
    return SubscriptionOut.of(subscriptions.get_subscription(session, plan.id, subscription_id))


@router.delete("/subscriptions/{subscription_id}", status_code=204, summary="Unsubscribe")
def unsubscribe(plan: PlanDep, subscription_id: SubscriptionId, session: SessionDep) -> None:
    """Notifications still waiting for it are dropped."""
    subscriptions.remove_subscription(session, plan.id, subscription_id)


@router.get("/notifications", summary="Notifications sent or waiting, newest first")
def list_notifications(
    plan: PlanDep,
    session: SessionDep,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[NotificationOut]:
    found = notifications.list_notifications(session, plan.id, status=status, limit=limit)
    return [NotificationOut.of(n) for n in found]


@router.post(
    "/notifications/{notification_id}/retry",
    summary="Retry a dead notification",
    responses=error_responses(409),
)
def retry_notification(
    plan: PlanDep, notification_id: NotificationId, session: SessionDep, now: NowDep
) -> NotificationOut:
    """Another round of attempts, with the same idempotency key (409 unless it is dead)."""
    found = session.get(Notification, notification_id)
    if found is None or found.plan_id != plan.id:
        raise NotFound(f"notification {notification_id} of plan {plan.id}")
    return NotificationOut.of(notifications.retry_notification(session, notification_id, now=now))
