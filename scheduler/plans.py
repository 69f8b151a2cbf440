"""Plans and their data: create, read, change, import and export a whole `Problem`.

Every change is checked against the whole plan first (references between entities), then
written together with its domain event, in the caller's transaction; the event asks for a
repair of the published schedule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from scheduler.conversion import (
    TABLES,
    entity_from_row,
    entity_row,
    entity_rows,
    problem_from_rows,
    problem_rows,
)
from scheduler.errors import Conflict, InvalidPlan, NotFound
from scheduler.events import (
    BlackoutAdded,
    BlackoutRemoved,
    CohortResized,
    CourseAdded,
    CourseCancelled,
    DomainEvent,
    EntityAdded,
    EntityChanged,
    EntityRemoved,
    PinRemoved,
    PlanChanged,
    PlanCreated,
    SessionPinned,
    SiteClosed,
    TrainerDroppedOut,
    record_event,
)
from scheduler.tables import BlackoutRow, PinRow, Plan
from scheduler.versions import publish_placements, published_placements
from solver.problem import (
    Blackout,
    Calendar,
    Cohort,
    Course,
    Pin,
    Problem,
    Site,
    Trainer,
    Unit,
    Weights,
    Window,
    reference_errors,
)

KeyedKind = Literal["site", "trainer", "unit", "cohort", "course"]
KEYED_KINDS: tuple[KeyedKind, ...] = ("site", "trainer", "unit", "cohort", "course")
_FIELD = {
    "site": "sites",
    "trainer": "trainers",
    "unit": "units",
    "cohort": "cohorts",
    "course": "courses",
    "blackout": "blackouts",
    "pin": "pins",
}
PLAN_SETTINGS = (
    "name",
    "calendar",
    "weights",
    "publish_policy",
    "nightly_enabled",
    "nightly_cron",
    "nightly_time_zone",
    "nightly_margin",
    "time_limit",
)


# --- Plans ---------------------------------------------------------------------------------


def get_plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id}")
    return plan


def list_plans(session: Session) -> list[Plan]:
    return list(session.scalars(select(Plan).order_by(Plan.id)))


def create_plan(
    session: Session,
    name: str,
    calendar: Calendar,
    *,
    now: dt.datetime,
    actor: str | None = None,
    weights: dict[str, int] | None = None,
    publish_policy: Literal["auto", "manual"] = "auto",
) -> Plan:
    """An empty plan: a calendar and no data yet."""
    return import_problem(
        session,
        Problem(
            name=name, calendar=calendar, sites=[], trainers=[], courses=[], weights=weights or {}
        ),
        now=now,
        actor=actor,
        publish_policy=publish_policy,
    )


def import_problem(
    session: Session,
    problem: Problem,
    *,
    now: dt.datetime,
    actor: str | None = None,
    publish_policy: Literal["auto", "manual"] = "auto",
) -> Plan:
    """A new plan holding a whole problem; its `previous` schedule, if any, becomes the
    published version 1 (so an existing schedule can be brought in and then repaired)."""
    _check(problem)
    plan = Plan(
        name=problem.name,
        calendar=problem.calendar.model_dump(mode="json"),
        weights=dict(problem.weights),
        publish_policy=publish_policy,
        nightly_enabled=True,
        created_at=now,
        updated_at=now,
    )
    session.add(plan)
    session.flush()
    session.add_all(problem_rows(plan.id, problem))
    created = record_event(session, PlanCreated(plan.id, plan.name), now=now, actor=actor)
    if problem.previous is not None:
        publish_placements(
            session,
            plan.id,
            problem,
            problem.previous,
            weights=_no_weights(),
            now=now,
            trigger="import",
            published_by=actor,
            last_event_id=created.id,
            status="imported",
        )
    return plan


def _no_weights() -> Weights:
    """Weights for reading hard rules only (an import publishes without scoring)."""
    return Weights(**dict.fromkeys(Weights.model_fields, 0))


def export_problem(session: Session, plan_id: int) -> Problem:
    """The whole plan as one Problem, with the published schedule as `previous`."""
    plan = get_plan(session, plan_id)
    return problem_from_rows(session, plan, published_placements(session, plan_id))


def load_problem(session: Session, plan_id: int) -> Problem:
    """The plan's current data, without any schedule."""
    return problem_from_rows(session, get_plan(session, plan_id))


def update_plan(
    session: Session, plan_id: int, *, now: dt.datetime, actor: str | None = None, **changes: Any
) -> Plan:
    """Change a plan's own settings (any of PLAN_SETTINGS); a new calendar or weights ask for
    a repair."""
    unknown = set(changes) - set(PLAN_SETTINGS)
    if unknown:
        raise InvalidPlan([f"{key}: not a plan setting" for key in sorted(unknown)])
    plan = get_plan(session, plan_id)
    if "calendar" in changes:
        changes["calendar"] = Calendar.model_validate(changes["calendar"]).model_dump(mode="json")
    if "calendar" in changes or "weights" in changes:
        problem = problem_from_rows(session, plan)
        _check(
            _with(
                problem,
                calendar=Calendar.model_validate(changes.get("calendar", plan.calendar)),
                weights=changes.get("weights", plan.weights),
            )
        )
    _check_settings(changes)
    changed = tuple(k for k, v in changes.items() if getattr(plan, k) != v)
    for key in changed:
        setattr(plan, key, changes[key])
    if changed:
        plan.updated_at = now
        record_event(session, PlanChanged(plan_id, changed), now=now, actor=actor)
    return plan


def _check_settings(changes: dict[str, Any]) -> None:
    """The worker builds cron jobs from these: a bad one must be refused here, not fail there."""
    errors = []
    if changes.get("publish_policy", "auto") not in ("auto", "manual"):
        errors.append("publish_policy: auto or manual")
    if changes.get("nightly_cron"):
        try:
            CronTrigger.from_crontab(changes["nightly_cron"])
        except ValueError as exc:
            errors.append(f"nightly_cron: {exc}")
    if changes.get("nightly_time_zone"):
        try:
            ZoneInfo(changes["nightly_time_zone"])
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"nightly_time_zone: unknown time zone {changes['nightly_time_zone']!r}")
    margin = changes.get("nightly_margin")
    if margin is not None and not 0 <= margin < 1:
        errors.append("nightly_margin: a share between 0 and 1")
    if errors:
        raise InvalidPlan(errors)


def delete_plan(session: Session, plan_id: int) -> None:
    """Remove a plan with all its data, runs, versions and outbox."""
    session.delete(get_plan(session, plan_id))


# --- Entities ------------------------------------------------------------------------------


def list_entities(session: Session, plan_id: int, kind: str) -> list[Any]:
    """A plan's sites, trainers, units, cohorts, courses, blackouts or pins, in order."""
    get_plan(session, plan_id)
    return [entity_from_row(kind, row) for row in entity_rows(session, plan_id, kind)]


def get_entity(session: Session, plan_id: int, kind: KeyedKind, key: str) -> Any:
    return entity_from_row(kind, _row(session, plan_id, kind, key))


def add_entity(
    session: Session,
    plan_id: int,
    kind: KeyedKind,
    entity: Site | Trainer | Unit | Cohort | Course,
    *,
    now: dt.datetime,
    actor: str | None = None,
) -> Any:
    """Add a site, trainer, unit, cohort or course (a course: CourseAdded)."""
    plan = get_plan(session, plan_id)
    problem = problem_from_rows(session, plan)
    if any(e.id == entity.id for e in getattr(problem, _FIELD[kind])):
        raise Conflict(f'{kind} "{entity.id}" already exists')
    _check(_with(problem, **{_FIELD[kind]: [*getattr(problem, _FIELD[kind]), entity]}))
    session.add(entity_row(kind, plan_id, _next_position(session, plan_id, kind), entity))
    data = entity.model_dump(mode="json")
    event: DomainEvent = (
        CourseAdded(plan_id, entity.id, data)
        if kind == "course"
        else EntityAdded(plan_id, kind, entity.id, data)
    )
    _changed(session, plan, event, now=now, actor=actor)
    return entity


def replace_entity(
    session: Session,
    plan_id: int,
    kind: KeyedKind,
    key: str,
    entity: Site | Trainer | Unit | Cohort | Course,
    *,
    now: dt.datetime,
    actor: str | None = None,
) -> Any:
    """Replace an entity with a new version of itself (same id). A cohort whose size alone
    changed records CohortResized; anything else EntityChanged."""
    if entity.id != key:
        raise Conflict(f"{kind} {key} cannot be renamed to {entity.id}; add a new one instead")
    plan = get_plan(session, plan_id)
    row = _row(session, plan_id, kind, key)
    before = entity_from_row(kind, row)
    if before == entity:
        return entity
    problem = problem_from_rows(session, plan)
    items = [entity if e.id == key else e for e in getattr(problem, _FIELD[kind])]
    _check(_with(problem, **{_FIELD[kind]: items}))
    new = entity_row(kind, plan_id, row.position, entity)
    for column in TABLES[kind].__table__.columns.keys():  # noqa: SIM118
        if column not in ("id", "plan_id", "position"):
            setattr(row, column, getattr(new, column))
    event: DomainEvent
    if (
        isinstance(before, Cohort)
        and isinstance(entity, Cohort)
        and before.model_copy(update={"size": entity.size}) == entity
    ):
        event = CohortResized(plan_id, key, before.size, entity.size)
    else:
        event = EntityChanged(
            plan_id, kind, key, before.model_dump(mode="json"), entity.model_dump(mode="json")
        )
    _changed(session, plan, event, now=now, actor=actor)
    return entity


def remove_entity(
    session: Session,
    plan_id: int,
    kind: KeyedKind,
    key: str,
    *,
    now: dt.datetime,
    actor: str | None = None,
) -> None:
    """Remove an entity nothing else refers to (a course: see cancel_course)."""
    if kind == "course":
        cancel_course(session, plan_id, key, now=now, actor=actor)
        return
    plan = get_plan(session, plan_id)
    row = _row(session, plan_id, kind, key)
    problem = problem_from_rows(session, plan)
    _check(
        _with(problem, **{_FIELD[kind]: [e for e in getattr(problem, _FIELD[kind]) if e.id != key]})
    )
    data = entity_from_row(kind, row).model_dump(mode="json")
    session.delete(row)
    _changed(session, plan, EntityRemoved(plan_id, kind, key, data), now=now, actor=actor)


def drop_out_trainer(
    session: Session,
    plan_id: int,
    trainer: str,
    window: Window,
    *,
    reason: str = "",
    now: dt.datetime,
    actor: str | None = None,
) -> Trainer:
    """A trainer cannot teach during `window` (the whole plan, for someone who leaves)."""
    updated: Trainer = _add_window(
        session, plan_id, "trainer", trainer, "unavailable", window, reason, now=now, actor=actor
    )
    return updated


def close_site(
    session: Session,
    plan_id: int,
    site: str,
    window: Window,
    *,
    reason: str = "",
    now: dt.datetime,
    actor: str | None = None,
) -> Site:
    """A site cannot be used during `window`."""
    updated: Site = _add_window(
        session, plan_id, "site", site, "closures", window, reason, now=now, actor=actor
    )
    return updated


def _add_window(
    session: Session,
    plan_id: int,
    kind: Literal["trainer", "site"],
    key: str,
    field: str,
    window: Window,
    reason: str,
    *,
    now: dt.datetime,
    actor: str | None,
) -> Any:
    plan = get_plan(session, plan_id)
    row = _row(session, plan_id, kind, key)
    if reason and not window.reason:
        window = window.model_copy(update={"reason": reason})
    entity = entity_from_row(kind, row)
    updated = entity.model_copy(update={field: [*getattr(entity, field), window]})
    problem = problem_from_rows(session, plan)
    items = [updated if e.id == key else e for e in getattr(problem, _FIELD[kind])]
    _check(_with(problem, **{_FIELD[kind]: items}))
    setattr(row, field, [*getattr(row, field), window.model_dump(mode="json")])
    data = window.model_dump(mode="json")
    event: DomainEvent = (
        TrainerDroppedOut(plan_id, key, data, reason)
        if kind == "trainer"
        else SiteClosed(plan_id, key, data, reason)
    )
    _changed(session, plan, event, now=now, actor=actor)
    return updated


def add_course(
    session: Session, plan_id: int, course: Course, *, now: dt.datetime, actor: str | None = None
) -> Course:
    result: Course = add_entity(session, plan_id, "course", course, now=now, actor=actor)
    return result


def cancel_course(
    session: Session,
    plan_id: int,
    course: str,
    *,
    reason: str = "",
    now: dt.datetime,
    actor: str | None = None,
) -> None:
    """Take a course out of the plan, with its pins and the blackouts aimed at it."""
    plan = get_plan(session, plan_id)
    row = _row(session, plan_id, "course", course)
    problem = problem_from_rows(session, plan)
    _check(
        _with(
            problem,
            courses=[c for c in problem.courses if c.id != course],
            pins=[p for p in problem.pins if p.course != course],
            blackouts=[
                b for b in problem.blackouts if not (b.scope == "course" and b.target == course)
            ],
        )
    )
    session.delete(row)
    session.execute(delete(PinRow).where(PinRow.plan_id == plan_id, PinRow.course == course))
    session.execute(
        delete(BlackoutRow).where(
            BlackoutRow.plan_id == plan_id,
            BlackoutRow.scope == "course",
            BlackoutRow.target == course,
        )
    )
    _changed(session, plan, CourseCancelled(plan_id, course, reason), now=now, actor=actor)


def resize_cohort(
    session: Session,
    plan_id: int,
    cohort: str,
    size: int,
    *,
    now: dt.datetime,
    actor: str | None = None,
) -> Cohort:
    current: Cohort = get_entity(session, plan_id, "cohort", cohort)
    resized: Cohort = replace_entity(
        session,
        plan_id,
        "cohort",
        cohort,
        current.model_copy(update={"size": size}),
        now=now,
        actor=actor,
    )
    return resized


# --- Blackouts and pins (addressed by row id: their own ids may be empty) ------------------


class Numbered(BaseModel):
    """A blackout or pin with the id to address it by."""

    id: int
    item: Blackout | Pin


def list_blackouts(session: Session, plan_id: int) -> list[Numbered]:
    get_plan(session, plan_id)
    rows = entity_rows(session, plan_id, "blackout")
    return [Numbered(id=r.id, item=entity_from_row("blackout", r)) for r in rows]


def list_pins(session: Session, plan_id: int) -> list[Numbered]:
    get_plan(session, plan_id)
    rows = entity_rows(session, plan_id, "pin")
    return [Numbered(id=r.id, item=entity_from_row("pin", r)) for r in rows]


def add_blackout(
    session: Session,
    plan_id: int,
    blackout: Blackout,
    *,
    now: dt.datetime,
    actor: str | None = None,
) -> Numbered:
    return _add_numbered(session, plan_id, "blackout", blackout, now=now, actor=actor)


def pin_session(
    session: Session, plan_id: int, pin: Pin, *, now: dt.datetime, actor: str | None = None
) -> Numbered:
    """Fix one session of a course at a time (and optionally site and trainer)."""
    return _add_numbered(session, plan_id, "pin", pin, now=now, actor=actor)


def remove_blackout(
    session: Session, plan_id: int, blackout_id: int, *, now: dt.datetime, actor: str | None = None
) -> None:
    _remove_numbered(session, plan_id, "blackout", blackout_id, now=now, actor=actor)


def remove_pin(
    session: Session, plan_id: int, pin_id: int, *, now: dt.datetime, actor: str | None = None
) -> None:
    _remove_numbered(session, plan_id, "pin", pin_id, now=now, actor=actor)


def _add_numbered(
    session: Session,
    plan_id: int,
    kind: Literal["blackout", "pin"],
    item: Blackout | Pin,
    *,
    now: dt.datetime,
    actor: str | None,
) -> Numbered:
    plan = get_plan(session, plan_id)
    problem = problem_from_rows(session, plan)
    _check(_with(problem, **{_FIELD[kind]: [*getattr(problem, _FIELD[kind]), item]}))
    row = entity_row(kind, plan_id, _next_position(session, plan_id, kind), item)
    session.add(row)
    session.flush()
    data = item.model_dump(mode="json")
    event: DomainEvent = (
        BlackoutAdded(plan_id, row.id, data)
        if kind == "blackout"
        else SessionPinned(plan_id, row.id, data)
    )
    _changed(session, plan, event, now=now, actor=actor)
    return Numbered(id=row.id, item=item)


def _remove_numbered(
    session: Session,
    plan_id: int,
    kind: Literal["blackout", "pin"],
    row_id: int,
    *,
    now: dt.datetime,
    actor: str | None,
) -> None:
    plan = get_plan(session, plan_id)
    row: Any = session.get(TABLES[kind], row_id)
    if row is None or row.plan_id != plan_id:
        raise NotFound(f"{kind} {row_id} of plan {plan_id}")
    data = entity_from_row(kind, row).model_dump(mode="json")
    session.delete(row)
    event: DomainEvent = (
        BlackoutRemoved(plan_id, row_id, data)
        if kind == "blackout"
        else PinRemoved(plan_id, row_id, data)
    )
    _changed(session, plan, event, now=now, actor=actor)


# --- Shared steps --------------------------------------------------------------------------


def _row(session: Session, plan_id: int, kind: str, key: str) -> Any:
    table: Any = TABLES[kind]
    row = session.scalar(select(table).where(table.plan_id == plan_id, table.key == key))
    if row is None:
        raise NotFound(f'{kind} "{key}" of plan {plan_id}')
    return row


def _next_position(session: Session, plan_id: int, kind: str) -> int:
    table = TABLES[kind]
    last = session.scalar(select(func.max(table.position)).where(table.plan_id == plan_id))
    return 0 if last is None else last + 1


def _with(problem: Problem, **changes: Any) -> Problem:
    """The problem with some fields replaced (built anew, so that its indexes are fresh)."""
    return Problem(**{name: getattr(problem, name) for name in Problem.model_fields} | changes)


def _check(problem: Problem) -> None:
    errors = reference_errors(problem)
    if errors:
        raise InvalidPlan(errors)


def _changed(
    session: Session, plan: Plan, event: DomainEvent, *, now: dt.datetime, actor: str | None
) -> None:
    plan.updated_at = now
    record_event(session, event, now=now, actor=actor)
