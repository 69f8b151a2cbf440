"""Schedule versions: publishing a schedule as an immutable version, and diffs between versions.

A session keeps its calendar `uid` across versions: at publishing, the new schedule's sessions
are matched to the published ones (same course; same time, site and trainer first, then in
time order), so a moved session is the same event with a higher `sequence`. Each version stores
its changes against the one before, with the reason, and writes its notifications to the outbox
in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.conversion import (
    day_key,
    day_value,
    placements_from_rows,
    solution_to_rows,
)
from scheduler.errors import Conflict, NotFound
from scheduler.events import (
    DomainEvent,
    Subject,
    VersionPublished,
    event_from_record,
    record_event,
)
from scheduler.notifications import enqueue_version_notifications
from scheduler.tables import EventRecord, ScheduleVersion, VersionChange, VersionSession
from solver.checker import check
from solver.problem import DayRef, Placement, Problem, Weights
from solver.solution import Unscheduled

ChangeKind = Literal["added", "moved", "cancelled"]


# --- Reading -------------------------------------------------------------------------------


def latest_version(session: Session, plan_id: int) -> ScheduleVersion | None:
    """The published version (the latest one), or None before the first publication."""
    query = (
        select(ScheduleVersion)
        .where(ScheduleVersion.plan_id == plan_id)
        .order_by(ScheduleVersion.number.desc())
        .limit(1)
    )
    return session.scalar(query)


def get_version(session: Session, plan_id: int, number: int) -> ScheduleVersion:
    query = select(ScheduleVersion).where(
        ScheduleVersion.plan_id == plan_id, ScheduleVersion.number == number
    )
    version = session.scalar(query)
    if version is None:
        raise NotFound(f"version {number} of plan {plan_id}")
    return version


def list_versions(session: Session, plan_id: int) -> list[ScheduleVersion]:
    """A plan's versions, newest first (sessions are loaded only when read)."""
    query = (
        select(ScheduleVersion)
        .where(ScheduleVersion.plan_id == plan_id)
        .order_by(ScheduleVersion.number.desc())
    )
    return list(session.scalars(query))


def published_placements(session: Session, plan_id: int) -> list[Placement] | None:
    """The published schedule as solver placements (what a repair starts from)."""
    version = latest_version(session, plan_id)
    return None if version is None else placements_from_rows(version.sessions)


# --- Matching sessions across versions -----------------------------------------------------


@dataclass(frozen=True)
class Matching:
    """Indices into the old and new session lists, paired."""

    unchanged: list[tuple[int, int]]
    moved: list[tuple[int, int]]
    cancelled: list[int]
    added: list[int]


def match_sessions(old: Sequence[Placement], new: Sequence[Placement]) -> Matching:
    """Pair a course's old and new sessions: identical ones first, the rest in time order.

    A course's sessions are interchangeable, so session numbers alone would report a swap
    of two sessions as two moves.
    """

    def where(p: Placement) -> tuple[int, int, str, str]:
        return (day_key(p.day), p.period, p.site, p.trainer)

    def when(p: Placement) -> tuple[int, int, int]:
        return (day_key(p.day), p.period, p.session)

    old_by: dict[str, list[int]] = defaultdict(list)
    new_by: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(old):
        old_by[p.course].append(i)
    for j, p in enumerate(new):
        new_by[p.course].append(j)
    unchanged, moved, cancelled, added = [], [], [], []
    for course in sorted(old_by.keys() | new_by.keys()):
        free: dict[tuple[int, int, str, str], list[int]] = defaultdict(list)
        for j in new_by.get(course, []):
            free[where(new[j])].append(j)
        rest_old = []
        for i in old_by.get(course, []):
            same = free.get(where(old[i]))
            if same:
                unchanged.append((i, same.pop(0)))
            else:
                rest_old.append(i)
        rest_new = [j for js in free.values() for j in js]
        rest_old.sort(key=lambda i: when(old[i]))
        rest_new.sort(key=lambda j: when(new[j]))
        moved += list(zip(rest_old, rest_new, strict=False))
        cancelled += rest_old[len(rest_new) :]
        added += rest_new[len(rest_old) :]
    return Matching(unchanged, moved, cancelled, added)


# --- Why a session changed -----------------------------------------------------------------

_RULE_SUBJECTS: dict[str, set[str]] = {
    "trainer_unavailable": {"trainer"},
    "trainer_qualified": {"trainer", "course"},
    "site_closed": {"site"},
    "site_allowed": {"site", "course"},
    "capacity": {"site", "cohort", "course"},
    "course_window": {"course", "plan"},
    "working_time": {"course", "plan"},
    "removed": {"site", "trainer", "course"},
}
_SINGLE_SESSION_RULES = {
    "working_time",
    "site_allowed",
    "trainer_qualified",
    "trainer_unavailable",
    "site_closed",
    "hard_blackout",
    "capacity",
    "course_window",
}


@dataclass(frozen=True)
class Reason:
    text: str
    rule: str | None = None
    event_id: int | None = None


def session_subjects(row: VersionSession) -> set[Subject]:
    """What a published session depends on, to tell which events concern it."""
    subjects: set[Subject] = {
        ("plan", None),
        ("course", row.course),
        ("site", row.site),
        ("trainer", row.trainer),
    }
    subjects |= {("cohort", q) for q in row.cohorts}
    subjects |= {("unit", u) for u in row.units}
    return subjects


def broken_rule(problem: Problem, weights: Weights, old: Placement) -> tuple[str, str] | None:
    """The first hard rule an old session breaks under the new data, as (rule, message)."""
    if old.course not in {c.id for c in problem.courses}:
        return ("removed", f"course {old.course} is no longer in the plan")
    for kind, key, known in (
        ("site", old.site, {s.id for s in problem.sites}),
        ("trainer", old.trainer, {t.id for t in problem.trainers}),
    ):
        if key not in known:
            return ("removed", f"{kind} {key} is no longer in the plan")
    course = problem.course(old.course)
    alone = Problem(
        **{name: getattr(problem, name) for name in Problem.model_fields}
        | {"courses": [course], "pins": [], "previous": None}
    )
    for v in check(alone, [old], weights).violations:
        if v.rule in _SINGLE_SESSION_RULES:
            return (v.rule, v.message)
    return None


def change_reason(
    kind: ChangeKind,
    subjects: set[Subject],
    broken: tuple[str, str] | None,
    events: Sequence[tuple[int, DomainEvent]],
    trigger: str,
    unscheduled: str | None = None,
) -> Reason:
    """The event or rule that explains one change, in words a planner understands.

    The latest event about the session's course, site, trainer, cohorts or units is the cause;
    a broken hard rule narrows which of them (a trainer's unavailability points to trainer
    events). Without either, the session moved to make room or to improve the score.
    """
    concerning = [(i, e) for i, e in events if e.subjects() & subjects]
    if broken is not None:
        rule, message = broken
        kinds = _RULE_SUBJECTS.get(rule)
        fitting = [
            (i, e) for i, e in concerning if kinds is None or {k for k, _ in e.subjects()} & kinds
        ]
        if fitting or concerning:
            event_id, event = (fitting or concerning)[-1]
            return Reason(f"{event.describe()} (event #{event_id}): {message}", rule, event_id)
        return Reason(message, rule)
    if concerning:
        event_id, event = concerning[-1]
        return Reason(f"{event.describe()} (event #{event_id})", None, event_id)
    if kind == "cancelled" and unscheduled:
        return Reason(f"left unscheduled: {unscheduled}", "unscheduled")
    if kind == "added":
        return Reason(f"newly scheduled ({trigger})")
    return Reason(f"moved to make room or to improve the schedule ({trigger})")


# --- Publishing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A schedule ready to become the next version: its session rows and its changes."""

    previous: ScheduleVersion | None
    sessions: list[VersionSession]
    changes: list[VersionChange]


def draft_version(
    session: Session,
    plan_id: int,
    problem: Problem,
    placements: Sequence[Placement],
    *,
    weights: Weights,
    trigger: str,
    last_event_id: int,
    unscheduled: Sequence[Unscheduled] = (),
) -> Draft:
    """Match `placements` against the published version and explain every change.

    Writes nothing: `publish_placements` stores the draft; a preview only shows it.
    """
    previous = latest_version(session, plan_id)
    old_rows = list(previous.sessions) if previous else []
    old = placements_from_rows(old_rows)
    matching = match_sessions(old, placements)
    identities: dict[tuple[str, int], tuple[str, int]] = {}
    for pairs, bump in ((matching.unchanged, 0), (matching.moved, 1)):
        for i, j in pairs:
            key = (placements[j].course, placements[j].session)
            identities[key] = (old_rows[i].uid, old_rows[i].sequence + bump)
    for j in matching.added:
        identities[(placements[j].course, placements[j].session)] = (uuid.uuid4().hex, 0)
    new_rows = solution_to_rows(placements, problem, identities)

    records = session.scalars(
        select(EventRecord)
        .where(
            EventRecord.plan_id == plan_id,
            EventRecord.id > (previous.last_event_id if previous else 0),
            EventRecord.id <= last_event_id,
        )
        .order_by(EventRecord.id)
    )
    events = [(r.id, event_from_record(r)) for r in records]
    left_out = {u.course: u.reason for u in unscheduled}
    current = problem.model_copy(update={"previous": None})

    def row(
        kind: ChangeKind, old: VersionSession | None, new: VersionSession | None
    ) -> VersionChange:
        subjects: set[Subject] = set()
        broken = None
        if old is not None:
            subjects |= session_subjects(old)
            broken = broken_rule(current, weights, placements_from_rows([old])[0])
        if new is not None:
            subjects |= session_subjects(new)
        either = new if new is not None else old
        assert either is not None
        reason = change_reason(kind, subjects, broken, events, trigger, left_out.get(either.course))
        return _change_row(kind, old, new, reason)

    changes = [row("moved", old_rows[i], new_rows[j]) for i, j in matching.moved]
    changes += [row("cancelled", old_rows[i], None) for i in matching.cancelled]
    changes += [row("added", None, new_rows[j]) for j in matching.added]
    return Draft(previous, new_rows, changes)


def publish_placements(
    session: Session,
    plan_id: int,
    problem: Problem,
    placements: Sequence[Placement],
    *,
    weights: Weights,
    now: dt.datetime,
    trigger: str,
    published_by: str | None,
    last_event_id: int,
    status: str = "feasible",
) -> ScheduleVersion:
    """Publish a schedule that comes from no run (an imported one)."""
    draft = draft_version(
        session,
        plan_id,
        problem,
        placements,
        weights=weights,
        trigger=trigger,
        last_event_id=last_event_id,
    )
    return publish_draft(
        session,
        plan_id,
        draft,
        plan_name=problem.name,
        now=now,
        trigger=trigger,
        published_by=published_by,
        last_event_id=last_event_id,
        status=status,
    )


def publish_draft(
    session: Session,
    plan_id: int,
    draft: Draft,
    *,
    plan_name: str,
    now: dt.datetime,
    trigger: str,
    published_by: str | None,
    last_event_id: int,
    run_id: int | None = None,
    status: str = "feasible",
    objective: int | None = None,
    bound: int | None = None,
    breakdown: dict[str, int] | None = None,
    unscheduled: Sequence[Unscheduled] = (),
) -> ScheduleVersion:
    """Make a draft the plan's next immutable version.

    In the caller's transaction: the version and its sessions, its changes against the
    previous version with their reasons, a VersionPublished event, and one outbox notification
    per party whose sessions changed.
    """
    latest = latest_version(session, plan_id)
    if (latest.id if latest else None) != (draft.previous.id if draft.previous else None):
        raise Conflict("another version was published since this draft was made")
    version = ScheduleVersion(
        plan_id=plan_id,
        number=draft.previous.number + 1 if draft.previous else 1,
        run_id=run_id,
        status=status,
        objective=objective,
        bound=bound,
        breakdown=dict(breakdown or {}),
        unscheduled=[u.model_dump(mode="json") for u in unscheduled],
        trigger=trigger,
        published_by=published_by,
        published_at=now,
        last_event_id=last_event_id,
        sessions=draft.sessions,
        changes=draft.changes,
    )
    session.add(version)
    session.flush()
    record_event(
        session,
        VersionPublished(plan_id, version.id, version.number, trigger, len(draft.changes)),
        now=now,
        actor=published_by,
    )
    enqueue_version_notifications(session, version, plan_name, now=now)
    return version


def _change_row(
    kind: ChangeKind, old: VersionSession | None, new: VersionSession | None, reason: Reason
) -> VersionChange:
    either = new if new is not None else old
    assert either is not None
    return VersionChange(
        kind=kind,
        uid=either.uid,
        sequence=either.sequence + (1 if new is None else 0),
        course=either.course,
        title=either.title,
        length=either.length,
        cohorts=sorted(set(old.cohorts if old else []) | set(new.cohorts if new else [])),
        units=sorted(set(old.units if old else []) | set(new.units if new else [])),
        old_day=old.day if old else None,
        old_period=old.period if old else None,
        old_site=old.site if old else None,
        old_trainer=old.trainer if old else None,
        new_day=new.day if new else None,
        new_period=new.period if new else None,
        new_site=new.site if new else None,
        new_trainer=new.trainer if new else None,
        reason=reason.text,
        rule=reason.rule,
        event_id=reason.event_id,
    )


def inside_freeze(changes: Sequence[VersionChange], horizon: DayRef) -> bool:
    """Whether any change touches a day before `horizon`, at its old or its new time."""
    limit = day_key(horizon)
    days = [d for c in changes for d in (c.old_day, c.new_day) if d is not None]
    return any(day_key(day_value(d)) < limit for d in days)


# --- Diffs ---------------------------------------------------------------------------------


class SessionSlot(BaseModel):
    """Where and when a session is held."""

    day: DayRef
    period: int
    site: str
    trainer: str


class SessionChange(BaseModel):
    """One session added, moved or cancelled, with its old and new slot and the reason."""

    kind: ChangeKind
    course: str
    title: str
    uid: str
    old: SessionSlot | None
    new: SessionSlot | None
    units: list[str]
    reason: str
    rule: str | None = None
    event_id: int | None = None


class VersionDiff(BaseModel):
    """What changed from one schedule to another."""

    plan_id: int
    from_version: int | None
    to_version: int | None
    added: list[SessionChange]
    moved: list[SessionChange]
    cancelled: list[SessionChange]

    @property
    def changes(self) -> list[SessionChange]:
        return [*self.moved, *self.cancelled, *self.added]


def _slot(row: VersionSession) -> SessionSlot:
    return SessionSlot(
        day=day_value(row.day), period=row.period, site=row.site, trainer=row.trainer
    )


def _where(row: VersionSession) -> tuple[str, int, str, str]:
    return (row.day, row.period, row.site, row.trainer)


def diff_versions(session: Session, plan_id: int, from_number: int, to_number: int) -> VersionDiff:
    """The sessions added, moved and cancelled between two versions, each with the reason.

    The reason is the one recorded when the version that last changed the session (between the
    two) was published; going backwards, it is that the older version is restored.
    """
    a = get_version(session, plan_id, from_number)
    b = get_version(session, plan_id, to_number)
    lo, hi = sorted((from_number, to_number))
    recorded: dict[str, VersionChange] = {}
    query = (
        select(VersionChange)
        .join(ScheduleVersion, VersionChange.version_id == ScheduleVersion.id)
        .where(
            ScheduleVersion.plan_id == plan_id,
            ScheduleVersion.number > lo,
            ScheduleVersion.number <= hi,
        )
        .order_by(ScheduleVersion.number, VersionChange.id)
    )
    for recorded_change in session.scalars(query):
        recorded[recorded_change.uid] = recorded_change  # the latest wins
    old_by = {r.uid: r for r in a.sessions}
    new_by = {r.uid: r for r in b.sessions}

    def change(
        kind: ChangeKind, old: VersionSession | None, new: VersionSession | None
    ) -> SessionChange:
        row = new if new is not None else old
        assert row is not None
        why = recorded.get(row.uid)
        if from_number > to_number:
            reason = Reason(f"version {to_number} restored")
        elif why is not None:
            reason = Reason(why.reason, why.rule, why.event_id)
        else:
            reason = Reason("changed between the two versions")
        return SessionChange(
            kind=kind,
            course=row.course,
            title=row.title,
            uid=row.uid,
            old=_slot(old) if old is not None else None,
            new=_slot(new) if new is not None else None,
            units=sorted(set(old.units if old else []) | set(new.units if new else [])),
            reason=reason.text,
            rule=reason.rule,
            event_id=reason.event_id,
        )

    return VersionDiff(
        plan_id=plan_id,
        from_version=from_number,
        to_version=to_number,
        added=[change("added", None, r) for uid, r in new_by.items() if uid not in old_by],
        moved=[
            change("moved", old_by[uid], r)
            for uid, r in new_by.items()
            if uid in old_by and _where(old_by[uid]) != _where(r)
        ],
        cancelled=[change("cancelled", r, None) for uid, r in old_by.items() if uid not in new_by],
    )


def version_changes(version: ScheduleVersion) -> list[SessionChange]:
    """The changes a version made to the one before it, as recorded when it was published."""
    return [change_from_row(c) for c in version.changes]


def change_from_row(c: VersionChange) -> SessionChange:
    def slot(day: str | None, period: int | None, site: str | None, trainer: str | None) -> Any:
        if day is None or period is None or site is None or trainer is None:
            return None
        return SessionSlot(day=day_value(day), period=period, site=site, trainer=trainer)

    return SessionChange(
        kind=c.kind,
        course=c.course,
        title=c.title,
        uid=c.uid,
        old=slot(c.old_day, c.old_period, c.old_site, c.old_trainer),
        new=slot(c.new_day, c.new_period, c.new_site, c.new_trainer),
        units=list(c.units),
        reason=c.reason,
        rule=c.rule,
        event_id=c.event_id,
    )


def preview_changes(draft: Draft, plan_id: int) -> VersionDiff:
    """What publishing a draft would change (for drafts and what-ifs a planner reviews)."""
    changes = [change_from_row(c) for c in draft.changes]
    return VersionDiff(
        plan_id=plan_id,
        from_version=draft.previous.number if draft.previous else None,
        to_version=None,
        added=[c for c in changes if c.kind == "added"],
        moved=[c for c in changes if c.kind == "moved"],
        cancelled=[c for c in changes if c.kind == "cancelled"],
    )
