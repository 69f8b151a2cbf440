"""Calendar feeds: secret tokens naming a party's calendar, and the entries such a feed shows.

The entries are what an iCalendar writer needs: a session's stable `uid`, its `sequence`
(bumped each time it moves), its start and end in the plan's time zone, and the sessions
cancelled since, marked as cancelled so that calendar apps remove them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.api_keys import token_hash
from scheduler.conversion import day_value
from scheduler.errors import NotFound
from scheduler.tables import FeedToken, Plan, ScheduleVersion, VersionChange
from scheduler.versions import latest_version
from solver.problem import Calendar, DayRef

FeedParty = Literal["plan", "trainer", "unit", "site", "cohort"]
DAY_STARTS = dt.time(9, 0)  # when period 0 starts if the calendar gives no period_starts


def create_feed_token(
    session: Session,
    plan_id: int,
    party_kind: FeedParty,
    party_id: str | None,
    *,
    now: dt.datetime,
) -> tuple[FeedToken, str]:
    """A new feed: the row, and its token in clear (for the URL; only its hash is kept)."""
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"plan {plan_id}")
    if (party_kind == "plan") != (party_id is None):
        raise ValueError("a plan-wide feed has no party id; every other kind needs one")
    token = secrets.token_urlsafe(24)
    row = FeedToken(
        plan_id=plan_id,
        party_kind=party_kind,
        party_id=party_id,
        token_hash=token_hash(token),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, token


def resolve_feed_token(session: Session, token: str) -> FeedToken:
    row = session.scalar(select(FeedToken).where(FeedToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        raise NotFound("feed")
    return row


def revoke_feed_token(session: Session, plan_id: int, token_id: int, *, now: dt.datetime) -> None:
    row = session.get(FeedToken, token_id)
    if row is None or row.plan_id != plan_id:
        raise NotFound(f"feed token {token_id} of plan {plan_id}")
    row.revoked_at = row.revoked_at or now


def list_feed_tokens(session: Session, plan_id: int) -> list[FeedToken]:
    query = select(FeedToken).where(FeedToken.plan_id == plan_id).order_by(FeedToken.id)
    return list(session.scalars(query))


class FeedEntry(BaseModel):
    uid: str
    sequence: int
    status: Literal["confirmed", "cancelled"]
    course: str
    title: str
    day: DayRef
    period: int
    length: int
    site: str
    trainer: str
    cohorts: list[str]
    units: list[str]
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None


class Feed(BaseModel):
    plan_id: int
    plan: str
    party_kind: str
    party_id: str | None
    version: int | None
    time_zone: str
    entries: list[FeedEntry]


def session_times(
    calendar: Calendar, day: DayRef, period: int, length: int
) -> tuple[dt.datetime, dt.datetime] | None:
    """When a session starts and ends in the plan's time zone (None on an abstract grid)."""
    if not isinstance(day, dt.date):
        return None
    zone = ZoneInfo(calendar.time_zone)
    minutes = dt.timedelta(minutes=calendar.period_minutes)
    if calendar.period_starts is not None:
        start = dt.datetime.combine(day, calendar.period_starts[period], zone)
        last = period + length - 1
        end = dt.datetime.combine(day, calendar.period_starts[last], zone) + minutes
    else:
        start = dt.datetime.combine(day, DAY_STARTS, zone) + period * minutes
        end = start + length * minutes
    return start, end


def _concerns(feed: FeedToken, held: dict[str, Any]) -> bool:
    key, kind = feed.party_id, feed.party_kind
    if kind in ("trainer", "site"):
        return bool(held[kind] == key)
    if kind in ("unit", "cohort"):
        return key in held[f"{kind}s"]
    return True


def _entry(
    calendar: Calendar,
    status: Literal["confirmed", "cancelled"],
    uid: str,
    sequence: int,
    held: dict[str, Any],
) -> FeedEntry:
    day = day_value(held["day"])
    when = session_times(calendar, day, held["period"], held["length"])
    return FeedEntry(
        **held | {"day": day},
        uid=uid,
        sequence=sequence,
        status=status,
        starts_at=when[0] if when else None,
        ends_at=when[1] if when else None,
    )


def build_feed(session: Session, feed: FeedToken) -> Feed:
    """The feed's party's sessions in the published version, plus those cancelled since they
    were published (so that subscribers' calendars drop them)."""
    plan = session.get(Plan, feed.plan_id)
    assert plan is not None
    calendar = Calendar.model_validate(plan.calendar)
    version = latest_version(session, feed.plan_id)
    entries: list[FeedEntry] = []
    for r in version.sessions if version else []:
        held = {
            "course": r.course,
            "title": r.title,
            "day": r.day,
            "period": r.period,
            "length": r.length,
            "site": r.site,
            "trainer": r.trainer,
            "cohorts": list(r.cohorts),
            "units": list(r.units),
        }
        if _concerns(feed, held):
            entries.append(_entry(calendar, "confirmed", r.uid, r.sequence, held))
    current = {r.uid for r in version.sessions} if version else set()
    cancelled: dict[str, VersionChange] = {}
    query = (
        select(VersionChange)
        .join(ScheduleVersion, VersionChange.version_id == ScheduleVersion.id)
        .where(ScheduleVersion.plan_id == feed.plan_id, VersionChange.kind == "cancelled")
        .order_by(ScheduleVersion.number)
    )
    for c in session.scalars(query):
        if c.uid not in current:
            cancelled[c.uid] = c  # the latest cancellation of a session wins
    for c in cancelled.values():
        held = {
            "course": c.course,
            "title": c.title,
            "day": c.old_day,
            "period": c.old_period,
            "length": c.length,
            "site": c.old_site,
            "trainer": c.old_trainer,
            "cohorts": list(c.cohorts),
            "units": list(c.units),
        }
        if _concerns(feed, held):
            entries.append(_entry(calendar, "cancelled", c.uid, c.sequence, held))
    return Feed(
        plan_id=plan.id,
        plan=plan.name,
        party_kind=feed.party_kind,
        party_id=feed.party_id,
        version=version.number if version else None,
        time_zone=calendar.time_zone,
        entries=entries,
    )
