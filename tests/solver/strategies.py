"""Generated small plans for property tests, in two shapes: `ANY` exercises every rule; `TIMED`
is richer in the time terms (more days and blackouts, tighter unit caps, one topic) and small
enough for CP-SAT to prove the optimum that a lower bound is held against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from solver.problem import Blackout, Calendar, Cohort, Course, Problem, Site, Trainer, Unit, Window


@dataclass(frozen=True)
class Shape:
    """Ranges the generated plans are drawn from."""

    days: tuple[int, int] = (2, 5)
    sites: tuple[int, int] = (1, 3)
    site_capacity: tuple[int, int] = (10, 60)
    trainers: tuple[int, int] = (1, 3)
    topics: tuple[str, ...] = ("law", "economy")
    caps: tuple[float, ...] = (0.2, 0.5)
    cohort_size: tuple[int, int] = (5, 40)
    cohorts_per_course: int | None = 2  # None: any number
    priority: tuple[int, int] = (1, 5)
    blackouts: tuple[int, int] = (0, 2)


ANY = Shape()
TIMED = Shape(
    days=(2, 6),
    sites=(1, 2),
    site_capacity=(20, 80),
    trainers=(1, 2),
    topics=("law",),
    caps=(0.1, 0.3),
    cohort_size=(5, 30),
    cohorts_per_course=None,
    priority=(1, 3),
    blackouts=(0, 3),
)


def window(draw: st.DrawFn, days: int, ppd: int | None = None) -> Window:
    first = draw(st.integers(0, days - 1))
    periods = None
    if ppd is not None:
        periods = draw(st.none() | st.lists(st.integers(0, ppd - 1), min_size=1, unique=True))
    return Window(first=first, last=draw(st.integers(first, days - 1)), periods=periods)


@st.composite
def problems(draw: st.DrawFn, shape: Shape = ANY) -> Problem:
    days = draw(st.integers(*shape.days))
    ppd = draw(st.integers(1, 3))
    sites = [
        Site(
            id=f"s{i}",
            capacity=draw(st.integers(*shape.site_capacity)),
            capacity_hard=draw(st.booleans()),
        )
        for i in range(draw(st.integers(*shape.sites)))
    ]
    trainers = [
        Trainer(
            id=f"t{i}",
            topics=draw(st.lists(st.sampled_from(shape.topics), min_size=1, unique=True)),
            unavailable=[window(draw, days)] if draw(st.booleans()) else [],
            max_sessions_per_week=draw(st.none() | st.integers(1, 3)),
        )
        for i in range(draw(st.integers(*shape.trainers)))
    ]
    units = [
        Unit(id=f"u{i}", headcount=100, away_cap=draw(st.none() | st.sampled_from(shape.caps)))
        for i in range(draw(st.integers(1, 2)))
    ]
    cohorts = [
        Cohort(
            id=f"q{i}",
            unit=draw(st.sampled_from(units)).id,
            size=draw(st.integers(*shape.cohort_size)),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    topics = sorted({t for tr in trainers for t in tr.topics})
    courses = [
        course(draw, shape, i, days, ppd, cohorts, trainers, topics, sites)
        for i in range(draw(st.integers(1, 4)))
    ]
    pool: dict[str, list[Any]] = {
        "unit": units,
        "cohort": cohorts,
        "site": sites,
        "trainer": trainers,
        "course": courses,
    }
    blackouts = []
    for _ in range(draw(st.integers(*shape.blackouts))):
        scope = draw(st.sampled_from(["plan", "unit", "cohort", "site", "trainer", "course"]))
        blackouts.append(
            Blackout(
                scope=scope,
                target=None if scope == "plan" else draw(st.sampled_from(pool[scope])).id,
                hard=draw(st.booleans()),
                weight=draw(st.none() | st.integers(1, 30)),
                window=window(draw, days, ppd),
            )
        )
    return Problem(
        calendar=Calendar(days=days, periods_per_day=ppd),
        sites=sites,
        trainers=trainers,
        units=units,
        cohorts=cohorts,
        courses=courses,
        blackouts=blackouts,
    )


def course(
    draw: st.DrawFn,
    shape: Shape,
    i: int,
    days: int,
    ppd: int,
    cohorts: list[Cohort],
    trainers: list[Trainer],
    topics: list[str],
    sites: list[Site],
) -> Course:
    pattern = draw(st.sampled_from(["block", "spread"]))
    sessions = draw(st.integers(1, 3))
    fields: dict[str, Any] = {
        "id": f"c{i}",
        "sessions": sessions,
        "length": draw(st.integers(1, ppd)),
        "pattern": pattern,
        "cohorts": draw(
            st.lists(
                st.sampled_from([q.id for q in cohorts]),
                min_size=1,
                max_size=shape.cohorts_per_course,
                unique=True,
            )
        ),
        "required": draw(st.booleans()),
        "priority": draw(st.integers(*shape.priority)),
    }
    if draw(st.booleans()):
        fields["trainer"] = draw(st.sampled_from(trainers)).id
    else:
        fields["topic"] = draw(st.sampled_from(topics))
    if pattern == "spread" and sessions > 1:
        fields["min_days"] = draw(st.integers(1, sessions))
    if draw(st.booleans()):
        fields["preferred_sites"] = [draw(st.sampled_from(sites)).id]
    if draw(st.booleans()):
        lo = draw(st.integers(0, days - 1))
        fields["earliest"], fields["latest"] = lo, draw(st.integers(lo, days - 1))
    return Course(**fields)
