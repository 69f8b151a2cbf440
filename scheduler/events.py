"""Domain events: what happened to a plan, in the past tense, stored with the change itself.

`record_event` writes the event in the caller's transaction and runs its handler: a change to
the plan's data asks for a (debounced) repair of the published schedule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.solve_requests import request_repair
from scheduler.tables import EventRecord

Subject = tuple[str, str | None]  # ("trainer", "t-1"), ("plan", None), ...


def _window_text(window: Mapping[str, Any]) -> str:
    first, last = window.get("first"), window.get("last")
    when = f"{first}" if first == last else f"{first}..{last}"
    periods = window.get("periods")
    return when if periods is None else f"{when} periods {periods}"


def _because(reason: str) -> str:
    return f": {reason}" if reason else ""


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to a plan. Data changes ask for a repair; others only inform."""

    plan_id: int

    def needs_repair(self) -> bool:
        return True

    def subjects(self) -> set[Subject]:
        """What the event is about, to tell which sessions it may have moved."""
        return set()

    def describe(self) -> str:
        return type(self).__name__


# --- Changes to a plan's data --------------------------------------------------------------


@dataclass(frozen=True)
class PlanCreated(DomainEvent):
    name: str

    def describe(self) -> str:
        return f'plan "{self.name}" created'


@dataclass(frozen=True)
class PlanChanged(DomainEvent):
    fields: tuple[str, ...]

    def needs_repair(self) -> bool:
        return bool({"calendar", "weights"} & set(self.fields))

    def subjects(self) -> set[Subject]:
        return {("plan", None)}

    def describe(self) -> str:
        return f"plan settings changed ({', '.join(self.fields)})"


@dataclass(frozen=True)
class EntityAdded(DomainEvent):
    kind: str
    key: str
    entity: Mapping[str, Any]

    def subjects(self) -> set[Subject]:
        return {(self.kind, self.key)}

    def describe(self) -> str:
        return f"{self.kind} {self.key} added"


@dataclass(frozen=True)
class EntityChanged(DomainEvent):
    kind: str
    key: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]

    def subjects(self) -> set[Subject]:
        return {(self.kind, self.key)}

    def describe(self) -> str:
        changed = sorted(k for k in self.after if self.before.get(k) != self.after.get(k))
        return f"{self.kind} {self.key} changed ({', '.join(changed) or 'no field'})"


@dataclass(frozen=True)
class EntityRemoved(DomainEvent):
    kind: str
    key: str
    entity: Mapping[str, Any]

    def subjects(self) -> set[Subject]:
        return {(self.kind, self.key)}

    def describe(self) -> str:
        return f"{self.kind} {self.key} removed"


@dataclass(frozen=True)
class TrainerDroppedOut(DomainEvent):
    trainer: str
    window: Mapping[str, Any]
    reason: str

    def subjects(self) -> set[Subject]:
        return {("trainer", self.trainer)}

    def describe(self) -> str:
        return (
            f"trainer {self.trainer} dropped out {_window_text(self.window)}{_because(self.reason)}"
        )


@dataclass(frozen=True)
class SiteClosed(DomainEvent):
    site: str
    window: Mapping[str, Any]
    reason: str

    def subjects(self) -> set[Subject]:
        return {("site", self.site)}

    def describe(self) -> str:
        return f"site {self.site} closed {_window_text(self.window)}{_because(self.reason)}"


@dataclass(frozen=True)
class BlackoutAdded(DomainEvent):
    blackout_id: int
    blackout: Mapping[str, Any]

    def subjects(self) -> set[Subject]:
        return {(self.blackout["scope"], self.blackout.get("target"))}

    def describe(self) -> str:
        b = self.blackout
        scope = "whole plan" if b["scope"] == "plan" else f"{b['scope']} {b.get('target')}"
        kind = "hard" if b.get("hard", True) else "soft"
        return (
            f"{kind} blackout added for {scope} {_window_text(b['window'])}"
            f"{_because(b.get('reason', ''))}"
        )


@dataclass(frozen=True)
class BlackoutRemoved(DomainEvent):
    blackout_id: int
    blackout: Mapping[str, Any]

    def subjects(self) -> set[Subject]:
        return {(self.blackout["scope"], self.blackout.get("target"))}

    def describe(self) -> str:
        return f"blackout {self.blackout_id} removed"


@dataclass(frozen=True)
class CourseAdded(DomainEvent):
    course: str
    entity: Mapping[str, Any]

    def subjects(self) -> set[Subject]:
        return {("course", self.course)}

    def describe(self) -> str:
        return f"course {self.course} added"


@dataclass(frozen=True)
class CourseCancelled(DomainEvent):
    course: str
    reason: str

    def subjects(self) -> set[Subject]:
        return {("course", self.course)}

    def describe(self) -> str:
        return f"course {self.course} cancelled{_because(self.reason)}"


@dataclass(frozen=True)
class CohortResized(DomainEvent):
    cohort: str
    old_size: int
    new_size: int

    def subjects(self) -> set[Subject]:
        return {("cohort", self.cohort)}

    def describe(self) -> str:
        return f"cohort {self.cohort} resized from {self.old_size} to {self.new_size}"


@dataclass(frozen=True)
class SessionPinned(DomainEvent):
    pin_id: int
    pin: Mapping[str, Any]

    def subjects(self) -> set[Subject]:
        return {("course", self.pin["course"])}

    def describe(self) -> str:
        return f"a session of {self.pin['course']} pinned on {self.pin['day']}"


@dataclass(frozen=True)
class PinRemoved(DomainEvent):
    pin_id: int
    pin: Mapping[str, Any]

    def subjects(self) -> set[Subject]:
        return {("course", self.pin["course"])}

    def describe(self) -> str:
        return f"pin of {self.pin['course']} on {self.pin['day']} removed"


# --- What the service did ------------------------------------------------------------------


@dataclass(frozen=True)
class _ServiceEvent(DomainEvent):
    def needs_repair(self) -> bool:
        return False


@dataclass(frozen=True)
class ScheduleSolved(_ServiceEvent):
    run_id: int
    status: str
    objective: int | None

    def describe(self) -> str:
        return f"run {self.run_id} solved: {self.status}, objective {self.objective}"


@dataclass(frozen=True)
class RunFailed(_ServiceEvent):
    run_id: int
    error: str

    def describe(self) -> str:
        return f"run {self.run_id} failed: {self.error}"


@dataclass(frozen=True)
class VersionPublished(_ServiceEvent):
    version_id: int
    number: int
    trigger: str
    changed_sessions: int

    def describe(self) -> str:
        return f"version {self.number} published ({self.changed_sessions} session(s) changed)"


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.__name__: cls
    for cls in (
        PlanCreated,
        PlanChanged,
        EntityAdded,
        EntityChanged,
        EntityRemoved,
        TrainerDroppedOut,
        SiteClosed,
        BlackoutAdded,
        BlackoutRemoved,
        CourseAdded,
        CourseCancelled,
        CohortResized,
        SessionPinned,
        PinRemoved,
        ScheduleSolved,
        RunFailed,
        VersionPublished,
    )
}


def record_event(
    session: Session, event: DomainEvent, *, now: dt.datetime, actor: str | None = None
) -> EventRecord:
    """Store the event in the caller's transaction and handle it."""
    payload = dataclasses.asdict(event)
    del payload["plan_id"]
    record = EventRecord(
        plan_id=event.plan_id,
        name=type(event).__name__,
        payload=payload,
        actor=actor,
        occurred_at=now,
    )
    session.add(record)
    session.flush()
    if event.needs_repair():
        request_repair(session, event.plan_id, f"{record.name} #{record.id}", now=now)
    return record


def event_from_record(record: EventRecord) -> DomainEvent:
    cls = EVENT_TYPES[record.name]
    values = dict(record.payload)
    for f in dataclasses.fields(cls):
        if f.name in values and isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    return cls(plan_id=record.plan_id, **values)


def list_events(
    session: Session, plan_id: int, *, after_id: int = 0, limit: int = 1000
) -> list[EventRecord]:
    """A plan's events in order, after a given event id (for paging and replay)."""
    query = (
        select(EventRecord)
        .where(EventRecord.plan_id == plan_id, EventRecord.id > after_id)
        .order_by(EventRecord.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def last_event_id(session: Session, plan_id: int) -> int:
    """The id of the plan's latest event (0 when none), the mark a run's input carries."""
    found = session.scalar(select(func.max(EventRecord.id)).where(EventRecord.plan_id == plan_id))
    return found or 0
