"""Subscriptions: where a party (trainer, unit, site, or the whole plan) hears about changes.

A webhook subscription carries the secret its deliveries are signed with; an email one an
address. Parties without a subscription get the process's default channel (a local file).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.errors import NotFound
from scheduler.tables import Plan, Subscription

PartyKind = Literal["plan", "trainer", "unit", "site"]
Channel = Literal["webhook", "email"]


def add_subscription(
    session: Session,
    plan_id: int,
    *,
    channel: Channel,
    address: str,
    party_kind: PartyKind = "plan",
    party_id: str | None = None,
    secret: str | None = None,
    now: dt.datetime,
) -> Subscription:
    """Subscribe an address to a party's changes. A webhook without a secret gets a new one,
    readable once from the returned row to configure the receiver."""
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"plan {plan_id}")
    if (party_kind == "plan") != (party_id is None):
        raise ValueError("a plan-wide subscription has no party id; every other kind needs one")
    if channel == "webhook" and not address.startswith(("http://", "https://")):
        raise ValueError("a webhook address is an http(s) URL")
    if channel == "email" and "@" not in address:
        raise ValueError("an email address has an @")
    subscription = Subscription(
        plan_id=plan_id,
        party_kind=party_kind,
        party_id=party_id,
        channel=channel,
        address=address,
        secret=(secret or secrets.token_urlsafe(32)) if channel == "webhook" else None,
        active=True,
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    return subscription


def list_subscriptions(session: Session, plan_id: int) -> list[Subscription]:
    query = select(Subscription).where(Subscription.plan_id == plan_id).order_by(Subscription.id)
    return list(session.scalars(query))


def get_subscription(session: Session, plan_id: int, subscription_id: int) -> Subscription:
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.plan_id != plan_id:
        raise NotFound(f"subscription {subscription_id} of plan {plan_id}")
    return subscription


def remove_subscription(session: Session, plan_id: int, subscription_id: int) -> None:
    """Stop a subscription; notifications already in the outbox for it are dropped."""
    get_subscription(session, plan_id, subscription_id).active = False


def subscriptions_of(
    session: Session, plan_id: int, party_kind: str, party_id: str | None
) -> list[Subscription]:
    """The active subscriptions of one party."""
    query = select(Subscription).where(
        Subscription.plan_id == plan_id,
        Subscription.active.is_(True),
        Subscription.party_kind == party_kind,
        Subscription.party_id == party_id
        if party_id is not None
        else Subscription.party_id.is_(None),
    )
    return list(session.scalars(query.order_by(Subscription.id)))
