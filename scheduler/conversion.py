"""The translations between rows and the solver: a plan's rows -> `solver.Problem`, a `Problem`
-> rows (import), and a `Solution` -> a version's session rows (and those rows -> placements).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.tables import (
    Base,
    BlackoutRow,
    CohortRow,
    CourseRow,
    PinRow,
    Plan,
    SiteRow,
    TrainerRow,
    UnitRow,
    VersionSession,
)
from solver.grid import TimeGrid
from solver.problem import (
    Blackout,
    Calendar,
    Cohort,
    Course,
    DayRef,
    Pin,
    Placement,
    Problem,
    Site,
    Trainer,
    Unit,
)
from solver.solution import Solution

EntityKind = Literal["site", "trainer", "unit", "cohort", "course", "blackout", "pin"]
EntityRow = SiteRow | TrainerRow | UnitRow | CohortRow | CourseRow | BlackoutRow | PinRow
Entity = Site | Trainer | Unit | Cohort | Course | Blackout | Pin

TABLES: dict[str, type[EntityRow]] = {
    "site": SiteRow,
    "trainer": TrainerRow,
    "unit": UnitRow,
    "cohort": CohortRow,
    "course": CourseRow,
    "blackout": BlackoutRow,
    "pin": PinRow,
}
MODELS: dict[str, type[BaseModel]] = {
    "site": Site,
    "trainer": Trainer,
    "unit": Unit,
    "cohort": Cohort,
    "course": Course,
    "blackout": Blackout,
    "pin": Pin,
}
# Fields holding one day, stored as text; windows keep their days inside JSON.
_DAY_FIELDS = frozenset({"earliest", "latest", "day"})


def day_text(day: DayRef) -> str:
    """How a day is stored: an ISO date, or the day number of an abstract grid."""
    return day.isoformat() if isinstance(day, dt.date) else str(day)


def day_value(text: str) -> DayRef:
    return int(text) if text.lstrip("-").isdigit() else dt.date.fromisoformat(text)


def day_key(day: DayRef) -> int:
    """A number that orders days (dates and day numbers never mix within one plan)."""
    return day.toordinal() if isinstance(day, dt.date) else day


def entity_row(kind: str, plan_id: int, position: int, entity: BaseModel) -> EntityRow:
    """The row of one plan entity (the model's `id` is the row's `key`)."""
    values: dict[str, Any] = entity.model_dump(mode="json")
    if "id" in values:
        values["key"] = values.pop("id")
    for name in _DAY_FIELDS & values.keys():
        if values[name] is not None:
            values[name] = day_text(getattr(entity, name))
    return TABLES[kind](plan_id=plan_id, position=position, **values)


def entity_from_row(kind: str, row: EntityRow) -> Any:
    """The solver model of an entity row."""
    model = MODELS[kind]
    values = {name: getattr(row, "key" if name == "id" else name) for name in model.model_fields}
    for name in _DAY_FIELDS & values.keys():
        if values[name] is not None:
            values[name] = day_value(values[name])
    return model.model_validate(values)


def entity_rows(session: Session, plan_id: int, kind: str) -> list[Any]:
    """A plan's rows of one kind, in the plan's order."""
    table = TABLES[kind]
    query = select(table).where(table.plan_id == plan_id).order_by(table.position, table.id)
    return list(session.scalars(query))


def problem_rows(plan_id: int, problem: Problem) -> list[Base]:
    """Every entity row of a problem (a plan's own fields and `previous` are stored elsewhere)."""
    rows: list[Base] = []
    for kind, entities in (
        ("site", problem.sites),
        ("trainer", problem.trainers),
        ("unit", problem.units),
        ("cohort", problem.cohorts),
        ("course", problem.courses),
        ("blackout", problem.blackouts),
        ("pin", problem.pins),
    ):
        rows += [entity_row(kind, plan_id, i, e) for i, e in enumerate(entities)]
    return rows


def problem_from_rows(
    session: Session, plan: Plan, previous: list[Placement] | None = None
) -> Problem:
    """The plan as the solver reads it; `previous` is the schedule a repair starts from."""

    def load(kind: str) -> list[Any]:
        return [entity_from_row(kind, row) for row in entity_rows(session, plan.id, kind)]

    return Problem(
        name=plan.name,
        calendar=Calendar.model_validate(plan.calendar),
        sites=load("site"),
        trainers=load("trainer"),
        units=load("unit"),
        cohorts=load("cohort"),
        courses=load("course"),
        blackouts=load("blackout"),
        pins=load("pin"),
        previous=previous,
        weights=dict(plan.weights),
    )


Identity = tuple[str, int]  # (uid, sequence) of a session, see scheduler.versions


def solution_to_rows(
    solution: Solution | Sequence[Placement],
    problem: Problem,
    identities: Mapping[tuple[str, int], Identity],
) -> list[VersionSession]:
    """A version's session rows: each placement with what feeds and briefings need to show it.

    `identities` gives each (course, session) its calendar uid and sequence number.
    """
    placements = solution.placements if isinstance(solution, Solution) else solution
    grid = TimeGrid.of(problem.calendar)
    rows = []
    for pl in placements:
        course = problem.course(pl.course)
        day_index = grid.day_index(pl.day)
        uid, sequence = identities[(pl.course, pl.session)]
        rows.append(
            VersionSession(
                course=pl.course,
                session=pl.session,
                day=day_text(pl.day),
                day_index=-1 if day_index is None else day_index,
                period=pl.period,
                length=course.length,
                site=pl.site,
                trainer=pl.trainer,
                title=course.name or course.id,
                cohorts=list(course.cohorts),
                units=problem.units_of(course),
                uid=uid,
                sequence=sequence,
            )
        )
    return rows


def placements_from_rows(rows: Sequence[VersionSession]) -> list[Placement]:
    return [
        Placement(
            course=r.course,
            session=r.session,
            day=day_value(r.day),
            period=r.period,
            site=r.site,
            trainer=r.trainer,
        )
        for r in rows
    ]
