"""The briefing system: a digest per unit of what was held, what comes, what changed, and how
well its cohorts are covered. Built on demand, and produced on a schedule (stored and sent to
the unit through the outbox)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.clock import plan_today
from scheduler.conversion import day_key, day_value, problem_from_rows
from scheduler.errors import NotFound
from scheduler.notifications import enqueue
from scheduler.tables import Briefing, Plan, ScheduleVersion, VersionChange, VersionSession
from scheduler.versions import SessionChange, change_from_row, latest_version
from solver.problem import DayRef

DEFAULT_LOOKBACK = dt.timedelta(days=7)


class BriefedSession(BaseModel):
    course: str
    title: str
    day: DayRef
    period: int
    site: str
    trainer: str
    cohorts: list[str]


class CohortCoverage(BaseModel):
    """How far a cohort's courses are scheduled and held."""

    cohort: str
    courses: int
    scheduled: list[str]
    unscheduled: list[str]
    sessions: int
    held: int


class UnitBriefing(BaseModel):
    plan_id: int
    plan: str
    unit: str
    unit_name: str
    produced_at: dt.datetime
    version: int | None
    today: DayRef | None
    since: dt.datetime
    held: list[BriefedSession]
    coming: list[BriefedSession]
    changed: list[SessionChange]
    coverage: list[CohortCoverage]

    def subject(self) -> str:
        return (
            f"[Offseason] Briefing for {self.unit_name or self.unit}: {len(self.held)} held, "
            f"{len(self.coming)} coming, {len(self.changed)} changed"
        )

    def text(self) -> str:
        def line(s: BriefedSession) -> str:
            return f"- {s.day} period {s.period}: {s.title} at {s.site} with {s.trainer}"

        parts = [f"Held ({len(self.held)}):", *map(line, self.held)]
        parts += [f"Coming ({len(self.coming)}):", *map(line, self.coming)]
        parts += [f"Changed since {self.since:%Y-%m-%d %H:%M} ({len(self.changed)}):"]
        parts += [f"- {c.title}: {c.kind}. Why: {c.reason}" for c in self.changed]
        parts += ["Coverage:"]
        parts += [
            f"- cohort {c.cohort}: {len(c.scheduled)} of {c.courses} course(s) scheduled, "
            f"{c.held} of {c.sessions} session(s) held"
            + (f"; not scheduled: {', '.join(c.unscheduled)}" if c.unscheduled else "")
            for c in self.coverage
        ]
        return "\n".join(parts)


def build_briefing(
    session: Session,
    plan_id: int,
    unit: str,
    *,
    now: dt.datetime,
    ahead_days: int = 14,
    since: dt.datetime | None = None,
) -> UnitBriefing:
    """A unit's digest from the published version: sessions held before today and coming in
    the next `ahead_days`, changes published after `since` (default: the unit's last briefing,
    or a week), and each of its cohorts' coverage."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id}")
    problem = problem_from_rows(session, plan)
    found = next((u for u in problem.units if u.id == unit), None)
    if found is None:
        raise NotFound(f'unit "{unit}" of plan {plan_id}')
    if since is None:
        last = last_briefing(session, plan_id, unit)
        since = last.produced_at if last is not None else now - DEFAULT_LOOKBACK
    version = latest_version(session, plan_id)
    rows = [r for r in version.sessions if unit in r.units] if version else []
    today = plan_today(problem.calendar, now)
    held, coming = split_by_today(rows, today, ahead_days)
    cohorts = [q.id for q in problem.cohorts if q.unit == unit]
    placed = {r.course for r in version.sessions} if version else set()
    coverage = []
    for cohort in cohorts:
        courses = [c.id for c in problem.courses if cohort in c.cohorts]
        sessions = [r for r in rows if r.course in courses]
        coverage.append(
            CohortCoverage(
                cohort=cohort,
                courses=len(courses),
                scheduled=[c for c in courses if c in placed],
                unscheduled=[c for c in courses if c not in placed],
                sessions=len(sessions),
                held=sum(1 for r in sessions if r in held),
            )
        )
    return UnitBriefing(
        plan_id=plan_id,
        plan=plan.name,
        unit=unit,
        unit_name=found.name,
        produced_at=now,
        version=version.number if version else None,
        today=today,
        since=since,
        held=[briefed(r) for r in held],
        coming=[briefed(r) for r in coming],
        changed=[change_from_row(c) for c in changes_since(session, plan_id, unit, since)],
        coverage=coverage,
    )


def split_by_today(
    rows: Sequence[VersionSession], today: DayRef | None, ahead_days: int
) -> tuple[list[VersionSession], list[VersionSession]]:
    """Sessions before today, and those from today for `ahead_days` calendar days (all of them
    on an abstract grid, which has no today)."""
    ordered = sorted(rows, key=lambda r: (day_key(day_value(r.day)), r.period, r.course))
    if today is None:
        return [], ordered
    start = day_key(today)
    held = [r for r in ordered if day_key(day_value(r.day)) < start]
    coming = [r for r in ordered if start <= day_key(day_value(r.day)) < start + ahead_days]
    return held, coming


def changes_since(
    session: Session, plan_id: int, unit: str, since: dt.datetime
) -> list[VersionChange]:
    query = (
        select(VersionChange)
        .join(ScheduleVersion, VersionChange.version_id == ScheduleVersion.id)
        .where(ScheduleVersion.plan_id == plan_id, ScheduleVersion.published_at > since)
        .order_by(ScheduleVersion.number, VersionChange.id)
    )
    return [c for c in session.scalars(query) if unit in c.units]


def briefed(row: VersionSession) -> BriefedSession:
    return BriefedSession(
        course=row.course,
        title=row.title,
        day=day_value(row.day),
        period=row.period,
        site=row.site,
        trainer=row.trainer,
        cohorts=list(row.cohorts),
    )


def produce_briefings(
    session: Session, plan_id: int, *, now: dt.datetime, ahead_days: int = 14
) -> list[Briefing]:
    """Store every unit's briefing and send it to the unit (a plan with nothing published
    has nothing to brief)."""
    if latest_version(session, plan_id) is None:
        return []
    plan = session.get(Plan, plan_id)
    assert plan is not None
    units = [u.id for u in problem_from_rows(session, plan).units]
    return [produce_briefing(session, plan_id, u, now=now, ahead_days=ahead_days) for u in units]


def produce_briefing(
    session: Session, plan_id: int, unit: str, *, now: dt.datetime, ahead_days: int = 14
) -> Briefing:
    """Build, store and send one unit's briefing (on demand, or from the schedule)."""
    report = build_briefing(session, plan_id, unit, now=now, ahead_days=ahead_days)
    row = Briefing(
        plan_id=plan_id, unit=unit, produced_at=now, content=report.model_dump(mode="json")
    )
    session.add(row)
    payload = {
        "type": "briefing",
        "plan_id": plan_id,
        "plan": report.plan,
        "party": {"kind": "unit", "id": unit},
        "briefing": report.model_dump(mode="json"),
        "subject": report.subject(),
        "text": report.text(),
    }
    enqueue(
        session,
        plan_id,
        party_kind="unit",
        party_id=unit,
        kind="briefing",
        payload=payload,
        now=now,
    )
    return row


def last_briefing(session: Session, plan_id: int, unit: str) -> Briefing | None:
    query = (
        select(Briefing)
        .where(Briefing.plan_id == plan_id, Briefing.unit == unit)
        .order_by(Briefing.produced_at.desc(), Briefing.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def list_briefings(session: Session, plan_id: int, *, unit: str | None = None) -> list[Briefing]:
    query = select(Briefing).where(Briefing.plan_id == plan_id)
    if unit is not None:
        query = query.where(Briefing.unit == unit)
    return list(session.scalars(query.order_by(Briefing.id.desc())))
