"""The notification outbox: one notification per party and channel, written in the transaction
that publishes (so none is lost), delivered after commit with retries (so none is sent twice to
a receiver that honours the idempotency key).

Delivery claims a notification for a while before sending, so two workers never send the same
one at once; a worker that dies mid-send leaves the claim to expire and the send to be retried
with the same key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from scheduler.channels import (
    DeliveryFailed,
    append_to_outbox_file,
    email_message,
    send_email,
    send_webhook,
)
from scheduler.errors import Conflict, NotFound
from scheduler.subscriptions import subscriptions_of
from scheduler.tables import Notification, ScheduleVersion, Subscription, VersionChange

if TYPE_CHECKING:
    from config.settings import Settings

Party = tuple[str, str]  # ("trainer", "t-1")


def _slot_text(day: str | None, period: int | None, site: str | None, trainer: str | None) -> str:
    return f"{day} period {period} at {site} with {trainer}"


def change_line(c: VersionChange) -> str:
    """One change in a sentence, for emails and files."""
    old = _slot_text(c.old_day, c.old_period, c.old_site, c.old_trainer)
    new = _slot_text(c.new_day, c.new_period, c.new_site, c.new_trainer)
    what = {
        "moved": f"moved from {old} to {new}",
        "cancelled": f"cancelled (was {old})",
        "added": f"added on {new}",
    }[c.kind]
    return f"- {c.title} [{c.course}]: {what}. Why: {c.reason}"


def change_payload(c: VersionChange) -> dict[str, Any]:
    def slot(day: str | None, period: int | None, site: str | None, trainer: str | None) -> Any:
        if day is None:
            return None
        return {"day": day, "period": period, "site": site, "trainer": trainer}

    return {
        "kind": c.kind,
        "uid": c.uid,
        "sequence": c.sequence,
        "course": c.course,
        "title": c.title,
        "old": slot(c.old_day, c.old_period, c.old_site, c.old_trainer),
        "new": slot(c.new_day, c.new_period, c.new_site, c.new_trainer),
        "reason": c.reason,
        "rule": c.rule,
        "event_id": c.event_id,
    }


def parties_of(changes: Sequence[VersionChange]) -> dict[Party, list[VersionChange]]:
    """Each trainer, unit and site a change concerns (old or new), with its changes."""
    parties: dict[Party, list[VersionChange]] = defaultdict(list)
    for c in changes:
        concerned = {("unit", u) for u in c.units}
        concerned |= {("trainer", t) for t in (c.old_trainer, c.new_trainer) if t}
        concerned |= {("site", s) for s in (c.old_site, c.new_site) if s}
        for party in sorted(concerned):
            parties[party].append(c)
    return dict(parties)


def enqueue(
    session: Session,
    plan_id: int,
    *,
    party_kind: str,
    party_id: str | None,
    kind: str,
    payload: dict[str, Any],
    now: dt.datetime,
    version_id: int | None = None,
    fallback: bool = True,
) -> list[Notification]:
    """One notification per subscription of the party; the default channel when it has none
    (and `fallback`)."""
    targets: list[Subscription | None] = list(
        subscriptions_of(session, plan_id, party_kind, party_id)
    )
    if not targets and fallback:
        targets = [None]
    rows = []
    for subscription in targets:
        key = str(uuid.uuid4())
        row = Notification(
            plan_id=plan_id,
            version_id=version_id,
            kind=kind,
            party_kind=party_kind,
            party_id=party_id,
            channel=subscription.channel if subscription else "default",
            address=subscription.address if subscription else "",
            subscription_id=subscription.id if subscription else None,
            idempotency_key=key,
            payload={**payload, "idempotency_key": key},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    return rows


def enqueue_version_notifications(
    session: Session, version: ScheduleVersion, plan_name: str, *, now: dt.datetime
) -> list[Notification]:
    """The outbox rows of a newly published version: one per party whose sessions changed
    (and per plan-wide subscription)."""
    rows: list[Notification] = []
    if not version.changes:
        return rows
    head = {
        "type": "schedule.changed",
        "plan_id": version.plan_id,
        "plan": plan_name,
        "version": version.number,
        "published_at": version.published_at.isoformat(),
        "trigger": version.trigger,
    }

    def payload(party: dict[str, Any], changes: Sequence[VersionChange]) -> dict[str, Any]:
        who = party["id"] or "the plan"
        subject = (
            f"[Offseason] {plan_name}: {len(changes)} session(s) changed for {who} "
            f"(version {version.number})"
        )
        return {
            **head,
            "party": party,
            "changes": [change_payload(c) for c in changes],
            "subject": subject,
            "text": "\n".join(change_line(c) for c in changes),
        }

    for (kind, key), changes in parties_of(version.changes).items():
        rows += enqueue(
            session,
            version.plan_id,
            party_kind=kind,
            party_id=key,
            kind="schedule.changed",
            payload=payload({"kind": kind, "id": key}, changes),
            now=now,
            version_id=version.id,
        )
    rows += enqueue(
        session,
        version.plan_id,
        party_kind="plan",
        party_id=None,
        kind="schedule.changed",
        payload=payload({"kind": "plan", "id": None}, version.changes),
        now=now,
        version_id=version.id,
        fallback=False,
    )
    return rows


# --- Delivery ------------------------------------------------------------------------------


def due_notification_ids(session: Session, *, now: dt.datetime, limit: int = 100) -> list[int]:
    query = (
        select(Notification.id)
        .where(
            Notification.status == "pending",
            Notification.next_attempt_at <= now,
            or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim_notification(
    session: Session, notification_id: int, *, now: dt.datetime, claim: dt.timedelta
) -> Notification | None:
    """Take a due notification for `claim`, atomically (None: someone else has it, or it was
    delivered meanwhile)."""
    taken = session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status == "pending",
            Notification.next_attempt_at <= now,
            or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
        )
        .values(claimed_until=now + claim)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Notification, notification_id, populate_existing=True)


def send_notification(
    notification: Notification,
    subscription: Subscription | None,
    settings: Settings,
    *,
    now: dt.datetime,
    client: httpx.Client,
) -> None:
    """Send through the notification's channel; raises DeliveryFailed for a retry."""
    n = notification
    if n.channel == "webhook":
        if subscription is None or subscription.secret is None:
            raise DeliveryFailed("the webhook subscription is gone")
        send_webhook(
            client,
            n.address,
            secret=subscription.secret,
            key=n.idempotency_key,
            payload=n.payload,
            timestamp=int(now.timestamp()),
        )
    elif n.channel == "email":
        message = email_message(
            sender=settings.smtp_sender,
            to=n.address,
            subject=n.payload.get("subject", "[Offseason] notification"),
            text=n.payload.get("text", ""),
            key=n.idempotency_key,
        )
        send_email(
            message,
            host=settings.smtp_host,
            port=settings.smtp_port,
            timeout=settings.webhook_timeout_seconds,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    elif n.channel == "default" and settings.default_channel == "file":
        try:
            append_to_outbox_file(settings.outbox_dir, n.idempotency_key, n.payload)
        except OSError as exc:
            raise DeliveryFailed(f"outbox file: {exc}") from exc


def record_delivery(
    session: Session,
    notification_id: int,
    *,
    error: str | None,
    now: dt.datetime,
    backoff: dt.timedelta,
    max_attempts: int,
    final: bool = False,
) -> Notification:
    """Mark a send as done, or schedule its retry after `backoff` doubled per earlier failure;
    after `max_attempts` (or a `final` failure) it is "dead", kept for a planner to retry."""
    n = session.get(Notification, notification_id)
    if n is None:
        raise NotFound(f"notification {notification_id}")
    n.attempts += 1
    n.claimed_until = None
    if error is None:
        n.status, n.delivered_at, n.last_error = "delivered", now, None
    else:
        n.last_error = error
        if final or n.attempts >= max_attempts:
            n.status = "dead"
        else:
            n.next_attempt_at = now + backoff * 2 ** (n.attempts - 1)
    return n


def list_notifications(
    session: Session, plan_id: int, *, status: str | None = None, limit: int = 200
) -> list[Notification]:
    query = select(Notification).where(Notification.plan_id == plan_id)
    if status is not None:
        query = query.where(Notification.status == status)
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def retry_notification(session: Session, notification_id: int, *, now: dt.datetime) -> Notification:
    """Give a dead notification another round of attempts (same idempotency key)."""
    n = session.get(Notification, notification_id)
    if n is None:
        raise NotFound(f"notification {notification_id}")
    if n.status != "dead":
        raise Conflict(f"notification {notification_id} is {n.status}, not dead")
    n.status, n.attempts, n.next_attempt_at = "pending", 0, now
    return n
