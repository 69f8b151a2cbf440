"""Small factories for solver tests: a valid entity with sensible defaults, any field overridden.

The defaults make one tiny plan that fits: an abstract grid of 5 days x 2 periods, one site
"s-1" (30 seats), one trainer "t-1" teaching "law", one unit "u-1" with one cohort "q-1" of 20,
and one spread course "c-1" of 2 sessions on "law" for that cohort.
"""

from __future__ import annotations

from typing import Any

from config.defaults import WEIGHTS
from solver.checker import check
from solver.grid import TimeGrid
from solver.params import SolveParams
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
    Weights,
    Window,
)
from solver.solution import CheckResult, RepairPolicy
from solver.solve import Built, _built


def make_calendar(**overrides: Any) -> Calendar:
    """An abstract grid of 5 days x 2 periods; give first_date/last_date for real dates."""
    fields: dict[str, Any] = {"days": 5, "periods_per_day": 2}
    if "first_date" in overrides or "last_date" in overrides:
        del fields["days"]
    return Calendar(**{**fields, **overrides})


def make_window(first: DayRef = 0, last: DayRef | None = None, **overrides: Any) -> Window:
    """Days first..last (last defaults to first), every period unless `periods` is given."""
    return Window(first=first, last=first if last is None else last, **overrides)


def make_site(**overrides: Any) -> Site:
    return Site(**{"id": "s-1", "capacity": 30, **overrides})


def make_trainer(**overrides: Any) -> Trainer:
    return Trainer(**{"id": "t-1", "topics": ["law"], **overrides})


def make_unit(**overrides: Any) -> Unit:
    return Unit(**{"id": "u-1", "headcount": 100, **overrides})


def make_cohort(**overrides: Any) -> Cohort:
    return Cohort(**{"id": "q-1", "unit": "u-1", "size": 20, **overrides})


def make_course(**overrides: Any) -> Course:
    """A spread course of 2 one-period sessions on "law" for cohort q-1.

    Giving a fixed `trainer` drops the default topic (a course has exactly one of them).
    """
    fields: dict[str, Any] = {
        "id": "c-1",
        "name": "Rule of law",
        "sessions": 2,
        "topic": "law",
        "cohorts": ["q-1"],
    }
    if "trainer" in overrides and "topic" not in overrides:
        del fields["topic"]
    return Course(**{**fields, **overrides})


def make_blackout(**overrides: Any) -> Blackout:
    """A hard plan-wide blackout of day 0."""
    return Blackout(**{"scope": "plan", "window": make_window(0), **overrides})


def make_pin(**overrides: Any) -> Pin:
    return Pin(**{"course": "c-1", "day": 0, **overrides})


def make_problem(**overrides: Any) -> Problem:
    """The tiny default plan (see the module docstring); override any Problem field."""
    fields: dict[str, Any] = {
        "calendar": make_calendar(),
        "sites": [make_site()],
        "trainers": [make_trainer()],
        "units": [make_unit()],
        "cohorts": [make_cohort()],
        "courses": [make_course()],
    }
    return Problem(**{**fields, **overrides})


def default_weights() -> Weights:
    """The configured default weights, with no plan overrides."""
    return Weights.resolve(WEIGHTS, {})


def place(
    course: str = "c-1",
    session: int = 0,
    day: DayRef = 0,
    period: int = 0,
    site: str = "s-1",
    trainer: str = "t-1",
) -> Placement:
    """One placed session; defaults fit the default plan."""
    return Placement(
        course=course, session=session, day=day, period=period, site=site, trainer=trainer
    )


def constructed(problem: Problem, weights: Weights) -> tuple[Built, list[Placement], CheckResult]:
    """The solve's settled construction of the plan, its placements and the checker's word
    on them (for searches that start from it)."""
    policy = RepairPolicy()
    grid = TimeGrid.of(problem.calendar)
    built = _built(problem, grid, weights, SolveParams(time_limit=2, workers=1, seed=0), policy)
    start = list(built.start.placements)
    return built, start, check(problem, start, weights, policy)
