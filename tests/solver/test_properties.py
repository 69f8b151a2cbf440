"""Property tests: on generated small plans, every schedule the solver returns passes the
independent checker, and the solver's score is the checker's score."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.checker import check
from solver.params import SolveParams
from solver.problem import Blackout, Calendar, Cohort, Course, Problem, Site, Trainer, Unit, Window
from solver.solution import RepairPolicy
from solver.solve import solve
from tests.solver.factories import default_weights

TOPICS = ["law", "economy"]


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    days = draw(st.integers(2, 5))
    ppd = draw(st.integers(1, 3))
    calendar = Calendar(days=days, periods_per_day=ppd)
    sites = [
        Site(id=f"s{i}", capacity=draw(st.integers(10, 60)), capacity_hard=draw(st.booleans()))
        for i in range(draw(st.integers(1, 3)))
    ]
    trainers = []
    for i in range(draw(st.integers(1, 3))):
        away: list[Window] = []
        if draw(st.booleans()):
            a = draw(st.integers(0, days - 1))
            away = [Window(first=a, last=draw(st.integers(a, days - 1)))]
        trainers.append(
            Trainer(
                id=f"t{i}",
                topics=draw(st.lists(st.sampled_from(TOPICS), min_size=1, unique=True)),
                unavailable=away,
                max_sessions_per_week=draw(st.none() | st.integers(1, 3)),
            )
        )
    units = [
        Unit(id=f"u{i}", headcount=100, away_cap=draw(st.none() | st.sampled_from([0.2, 0.5])))
        for i in range(draw(st.integers(1, 2)))
    ]
    cohorts = [
        Cohort(id=f"q{i}", unit=draw(st.sampled_from(units)).id, size=draw(st.integers(5, 40)))
        for i in range(draw(st.integers(1, 3)))
    ]
    topics = sorted({t for tr in trainers for t in tr.topics})
    courses = []
    for i in range(draw(st.integers(1, 4))):
        pattern = draw(st.sampled_from(["block", "spread"]))
        sessions = draw(st.integers(1, 3))
        fields: dict[str, Any] = {
            "id": f"c{i}",
            "sessions": sessions,
            "length": draw(st.integers(1, ppd)),
            "pattern": pattern,
            "cohorts": draw(
                st.lists(
                    st.sampled_from([q.id for q in cohorts]), min_size=1, max_size=2, unique=True
                )
            ),
            "required": draw(st.booleans()),
            "priority": draw(st.integers(1, 5)),
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
        courses.append(Course(**fields))
    blackouts = []
    for _ in range(draw(st.integers(0, 2))):
        scope = draw(st.sampled_from(["plan", "unit", "cohort", "site", "trainer", "course"]))
        pool = {
            "unit": units,
            "cohort": cohorts,
            "site": sites,
            "trainer": trainers,
            "course": courses,
        }
        target = None if scope == "plan" else draw(st.sampled_from(pool[scope])).id
        a = draw(st.integers(0, days - 1))
        periods = draw(st.none() | st.lists(st.integers(0, ppd - 1), min_size=1, unique=True))
        blackouts.append(
            Blackout(
                scope=scope,
                target=target,
                hard=draw(st.booleans()),
                weight=draw(st.none() | st.integers(1, 30)),
                window=Window(first=a, last=draw(st.integers(a, days - 1)), periods=periods),
            )
        )
    return Problem(
        calendar=calendar,
        sites=sites,
        trainers=trainers,
        units=units,
        cohorts=cohorts,
        courses=courses,
        blackouts=blackouts,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_solution_passes_the_checker_with_the_same_score(problem: Problem) -> None:
    weights = default_weights()
    solution = solve(problem, weights, SolveParams(time_limit=3, workers=1, seed=0))
    assert solution.status in ("optimal", "feasible", "infeasible")
    if solution.status == "infeasible":
        assert solution.conflicts, "an infeasible answer names its conflicting rules"
        return
    result = check(problem, solution.placements, weights, RepairPolicy())
    assert result.violations == []
    assert result.objective == solution.objective
    assert solution.bound is not None and solution.bound <= solution.objective
    if solution.status == "optimal":
        assert solution.stats["model_objective"] == result.objective, problem.model_dump_json()
