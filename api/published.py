"""What consumers read of a published version: its sessions as JSON (filtered, paged) and as
iCalendar, served from memory while current and revalidated with ETags.

A plan's published state (its version and latest event: every change of its data, names or
calendar records one) is read from the database at most every `fresh` seconds per plan, and so
is a feed token's party; a representation is rendered once per state, query and (calendars)
day, since cancelled sessions age out. A cached read therefore touches neither the database nor
a thread; what another process publishes shows within `fresh` seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy.orm import Session, sessionmaker

from api.calendars import Directory, feed_to_ical
from api.conditional import Remembered, Representation
from api.errors import ApiError
from api.schemas import ScheduledSession, SchedulePage
from scheduler.api_keys import token_hash
from scheduler.clock import Clock, plan_today
from scheduler.conversion import day_key, day_value
from scheduler.events import last_event_id
from scheduler.feeds import build_feed, resolve_feed_token, session_times
from scheduler.plans import get_entity, get_plan, load_problem
from scheduler.tables import FeedToken, Plan, ScheduleVersion
from scheduler.versions import get_version, latest_version
from solver.problem import Calendar, DayRef

T = TypeVar("T")

ICS = "text/calendar; charset=utf-8"
JSON = "application/json"


def published_version(session: Session, plan: Plan, number: int | None = None) -> ScheduleVersion:
    """The published version (or the one asked for); 404 before the first publication."""
    if number is not None:
        return get_version(session, plan.id, number)
    version = latest_version(session, plan.id)
    if version is None:
        raise ApiError(404, f"plan {plan.id} has no published version yet", kind="not-found")
    return version


@dataclass(frozen=True)
class PlanState:
    """What every published representation of a plan is made from, read in one go."""

    plan_id: int
    calendar: Calendar = field(compare=False)  # a change of it is an event too
    version_id: int | None
    published_at: dt.datetime | None
    last_event: int
    changed_at: dt.datetime = field(compare=False)

    @staticmethod
    def read(session: Session, plan_id: int) -> PlanState:
        plan = get_plan(session, plan_id)
        version = latest_version(session, plan_id)
        return PlanState(
            plan_id=plan_id,
            calendar=Calendar.model_validate(plan.calendar),
            version_id=version.id if version else None,
            published_at=version.published_at if version else None,
            last_event=last_event_id(session, plan_id),
            changed_at=max(plan.updated_at, version.published_at) if version else plan.updated_at,
        )

    @property
    def stamp(self) -> dt.datetime:
        """The calendars' DTSTAMP: when the version was published (stable across data changes
        that leave a calendar's sessions alone, so its bytes and ETag stay)."""
        return self.published_at or self.changed_at


@dataclass(frozen=True)
class FeedTarget:
    feed_id: int
    plan_id: int
    kind: str
    party_id: str | None


def scheduled_sessions(version: ScheduleVersion, calendar: Calendar) -> list[ScheduledSession]:
    """The version's sessions in time order, with their clock times."""
    items = []
    for r in version.sessions:
        day = day_value(r.day)
        when = session_times(calendar, day, r.period, r.length)
        items.append(
            ScheduledSession(
                uid=r.uid,
                sequence=r.sequence,
                course=r.course,
                session=r.session,
                title=r.title,
                day=day,
                period=r.period,
                length=r.length,
                starts_at=when[0] if when else None,
                ends_at=when[1] if when else None,
                site=r.site,
                trainer=r.trainer,
                cohorts=list(r.cohorts),
                units=list(r.units),
            )
        )
    items.sort(key=lambda s: (day_key(s.day), s.period, s.course, s.session))
    return items


@dataclass(frozen=True)
class ScheduleFilter:
    """Which sessions a consumer wants: any of the values given for each field, all fields."""

    trainer: tuple[str, ...] = ()
    unit: tuple[str, ...] = ()
    site: tuple[str, ...] = ()
    cohort: tuple[str, ...] = ()
    course: tuple[str, ...] = ()
    first: DayRef | None = None
    last: DayRef | None = None

    def keeps(self, s: ScheduledSession) -> bool:
        return (
            (not self.trainer or s.trainer in self.trainer)
            and (not self.site or s.site in self.site)
            and (not self.course or s.course in self.course)
            and (not self.unit or any(u in self.unit for u in s.units))
            and (not self.cohort or any(q in self.cohort for q in s.cohorts))
            and (self.first is None or day_key(s.day) >= day_key(self.first))
            and (self.last is None or day_key(s.day) <= day_key(self.last))
        )


def page_url(path: str, wanted: ScheduleFilter, number: int | None, offset: int, limit: int) -> str:
    """The relative URL of a page of the schedule with the same filters."""
    query: list[tuple[str, str]] = []
    for name in ("trainer", "unit", "site", "cohort", "course"):
        query += [(name, value) for value in getattr(wanted, name)]
    for name, day in (("from", wanted.first), ("to", wanted.last)):
        if day is not None:
            query.append((name, str(day)))
    if number is not None:
        query.append(("version", str(number)))
    query += [("offset", str(offset)), ("limit", str(limit))]
    return f"{path}?{urlencode(query)}"


def select_sessions(
    items: Sequence[ScheduledSession], wanted: ScheduleFilter
) -> list[ScheduledSession]:
    return [s for s in items if wanted.keeps(s)]


def parse_day(text: str | None, calendar: Calendar, name: str) -> DayRef | None:
    """A `from`/`to` query value: a date on real calendars, a day number on abstract grids."""
    if text is None:
        return None
    try:
        return int(text) if calendar.abstract else dt.date.fromisoformat(text)
    except ValueError:
        kind = "a day number" if calendar.abstract else "a date (YYYY-MM-DD)"
        raise ApiError(422, f"{name}: {text!r} is not {kind}", kind="validation") from None


def calendar_body(
    session: Session, state: PlanState, kind: str, party_id: str | None, today: DayRef | None
) -> bytes:
    """A party's calendar (or the whole plan's) as iCalendar."""
    plan = get_plan(session, state.plan_id)
    feed = build_feed(session, FeedToken(plan_id=plan.id, party_kind=kind, party_id=party_id))
    names = Directory.of(load_problem(session, plan.id))
    title = plan.name if kind == "plan" else f"{names.party(kind, party_id)} - {plan.name}"
    return feed_to_ical(
        feed,
        names,
        title=title,
        stamp=state.stamp,
        today=today if isinstance(today, dt.date) else None,
    )


def schedule_body(
    session: Session,
    state: PlanState,
    *,
    number: int | None,
    wanted: ScheduleFilter,
    offset: int,
    limit: int,
    path: str,
) -> tuple[bytes, dt.datetime]:
    """One page of a version's sessions as JSON, and when it was last changed."""
    plan = get_plan(session, state.plan_id)
    version = published_version(session, plan, number)
    chosen = select_sessions(scheduled_sessions(version, state.calendar), wanted)
    page = SchedulePage(
        plan_id=plan.id,
        version=version.number,
        published_at=version.published_at,
        time_zone=state.calendar.time_zone,
        total=len(chosen),
        offset=offset,
        limit=limit,
        next=(
            page_url(path, wanted, number, offset + limit, limit)
            if offset + limit < len(chosen)
            else None
        ),
        items=chosen[offset : offset + limit],
    )
    return page.model_dump_json().encode(), max(plan.updated_at, version.published_at)


class Publications:
    """The read side: published representations from memory when current (see above)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *, fresh: float = 1.0):
        self.sessions, self.clock = sessions, clock
        self.states: Remembered[int, PlanState] = Remembered(fresh)
        self.feeds: Remembered[str, FeedTarget] = Remembered(fresh, size=10_000)
        self.rendered: Remembered[Hashable, Representation] = Remembered(size=512)

    async def state(self, plan_id: int) -> PlanState:
        """The plan's state, re-read when older than `fresh` (404 for an unknown plan)."""
        return await self.states.get(plan_id, partial(self._read, PlanState.read, plan_id))

    def changed(self) -> None:
        """Something was written here: every plan's state is read again."""
        self.states.forget()

    async def feed(self, token: str) -> Representation:
        """A subscriber's calendar, by the token in its URL (404 unknown or revoked)."""
        read = partial(self._read, resolve_target, token)
        target = await self.feeds.get(token_hash(token), read)
        return await self.calendar(target.plan_id, target.kind, target.party_id)

    def forget_feed(self, feed_id: int) -> None:
        """A feed revoked here stops at once (revoked elsewhere: within `fresh`)."""
        self.feeds.forget(lambda target: target.feed_id == feed_id)

    async def calendar(
        self, plan_id: int, kind: str, party_id: str | None, *, known_party: bool = True
    ) -> Representation:
        """A party's calendar; unless `known_party`, a party not in the plan is a 404."""
        state = await self.state(plan_id)
        if state.calendar.abstract:
            raise ApiError(
                409,
                "this plan is an abstract grid without dates: it has no calendar; "
                "read its JSON schedule instead",
                kind="no-dates",
            )
        today = plan_today(state.calendar, self.clock())

        def render(session: Session) -> Representation:
            if not known_party and party_id is not None:
                get_entity(session, plan_id, kind, party_id)  # type: ignore[arg-type]
            body = calendar_body(session, state, kind, party_id, today)
            return Representation.of(body, ICS, state.changed_at)

        key = ("ics", state, kind, party_id, today)
        return await self.rendered.get(key, partial(self._read, render))

    async def schedule(
        self,
        plan_id: int,
        *,
        number: int | None,
        wanted: ScheduleFilter,
        offset: int,
        limit: int,
        path: str,
    ) -> Representation:
        state = await self.state(plan_id)

        def render(session: Session) -> Representation:
            body, changed = schedule_body(
                session,
                state,
                number=number,
                wanted=wanted,
                offset=offset,
                limit=limit,
                path=path,
            )
            return Representation.of(body, JSON, changed)

        key = ("schedule", state, number, wanted, offset, limit, path)
        return await self.rendered.get(key, partial(self._read, render))

    def _read(self, read: Callable[..., T], *args: Any) -> T:
        with self.sessions.begin() as session:
            return read(session, *args)


def resolve_target(session: Session, token: str) -> FeedTarget:
    row = resolve_feed_token(session, token)
    return FeedTarget(row.id, row.plan_id, row.party_kind, row.party_id)
