"""The compiled annealing prices every move as the checker prices it (every soft term the
Python search prices: blackouts, capacity, preferred sites, days, stability, compactness, the
load peak, away caps, trainer loads), breaks no hard rule, moves blocks whole, keeps the best
schedule it saw, and leaves what may not move where it was."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import kernel
from solver.checker import check
from solver.domains import DomainBuilder
from solver.grid import TimeGrid
from solver.kernel import Kernel, why_not
from solver.local import Local
from solver.params import SolveParams
from solver.problem import Problem
from solver.solution import RepairPolicy
from solver.solve import solve
from tests.solver.factories import (
    constructed,
    default_weights,
    make_blackout,
    make_calendar,
    make_cohort,
    make_course,
    make_problem,
    make_site,
    make_trainer,
    make_unit,
    make_window,
    place,
)
from tests.solver.strategies import problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.booleans(), st.integers(0, 1000))
def test_compiled_annealing_agrees_with_the_checker(
    problem: Problem, one_stays: bool, seed: int
) -> None:
    """Hot moves then cold ones: the running cost, the best kept and the schedule it ends on
    are each the checker's price of the schedule, with no hard rule broken; a course left out
    of the moves stays where it was."""
    weights, policy = default_weights(), RepairPolicy()
    built, start, before = constructed(problem, weights)
    if before.violations:
        return
    stays = problem.courses[0].id if one_stays and len(problem.courses) > 1 else None
    movable = {c.id for c in problem.courses} - {stays}
    local = Local(problem, built.builder, weights, start, movable)
    if why_not(local) is not None:  # nothing placed moves
        assert not local.movable
        return
    sa = Kernel(local, seed)
    unscheduled = before.breakdown["unscheduled"]
    assert sa.cost == sa.objective() == before.objective - unscheduled
    gained = sa.run(300, 50.0) + sa.run(300, 0.1)
    assert sa.cost == sa.objective()
    now = check(problem, local.placements(sa.spots(best=False)), weights, policy)
    assert now.violations == []
    assert now.objective - unscheduled == sa.cost
    best = check(problem, sa.best_placements(), weights, policy)
    assert best.violations == []
    assert best.objective - unscheduled == sa.best == before.objective - unscheduled - gained
    sa.finish()
    assert local.objective() == sa.best
    held = [p for p in local.placements() if p.course == stays]
    assert held == [p for p in start if p.course == stays]


def test_a_lone_session_joins_its_cohorts_other_one() -> None:
    """Cold, the compiled moves find what a planner would: two sessions of a cohort on two
    days pay compactness twice; side by side on one day they pay nothing."""
    problem = make_problem(
        courses=[make_course(min_days=1)], units=[make_unit()], cohorts=[make_cohort()]
    )
    weights = default_weights()
    grid = TimeGrid.of(problem.calendar)
    start = [place(session=0, day=0, period=0), place(session=1, day=3, period=1)]
    local = Local(problem, DomainBuilder(problem, grid), weights, start, {"c-1"})
    sa = Kernel(local, 1)
    assert sa.run(2000, 0.0) == 2 * weights.compactness
    moved = sa.best_placements()
    assert check(problem, moved, weights, RepairPolicy()).objective == weights.load_peak
    assert len({(p.day, p.period) for p in moved}) == 2 and len({p.day for p in moved}) == 1


def test_a_block_moves_whole_out_of_a_soft_blackout() -> None:
    """A two-day block inside a soft blackout of days 0-2 moves whole to days 3-4."""
    problem = make_problem(
        courses=[make_course(pattern="block", sessions=2, length=2)],
        blackouts=[make_blackout(window=make_window(0, 2), hard=False, weight=7)],
    )
    weights = default_weights()
    grid = TimeGrid.of(problem.calendar)
    start = [place(session=0, day=0), place(session=1, day=1)]
    local = Local(problem, DomainBuilder(problem, grid), weights, start, {"c-1"})
    sa = Kernel(local, 2)
    assert sa.cost == 2 * 7 + weights.load_peak
    assert sa.run(500, 0.0) == 2 * 7
    moved = sa.best_placements()
    assert check(problem, moved, weights, RepairPolicy()).violations == []
    assert sorted((p.session, p.day) for p in moved) == [(0, 3), (1, 4)]


def test_a_trainer_over_a_weekly_limit_teaches_in_another_week() -> None:
    """Two weeks of days; a trainer allowed one session a week teaching both in week one:
    one of them moves to week two."""
    problem = make_problem(
        calendar=make_calendar(days=10, periods_per_day=1),
        trainers=[make_trainer(max_sessions_per_week=1)],
        courses=[make_course(min_days=2, earliest=0, latest=9)],
    )
    weights = default_weights()
    grid = TimeGrid.of(problem.calendar)
    start = [place(session=0, day=0), place(session=1, day=2)]
    local = Local(problem, DomainBuilder(problem, grid), weights, start, {"c-1"})
    sa = Kernel(local, 4)
    assert sa.run(2000, 0.0) == weights.trainer_load
    weeks = sorted(grid.week_of_day[grid.day_index(p.day) or 0] for p in sa.best_placements())
    assert weeks == [0, 1]


def test_where_the_compiled_moves_do_not_apply_the_reason_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing to move, or price tables past their limit: the solve anneals in Python
    (`Kernel.of` is None)."""
    problem = make_problem(courses=[make_course(), make_course(id="c-2", pattern="block")])
    weights = default_weights()
    built, start, _ = constructed(problem, weights)
    assert why_not(Local(problem, built.builder, weights, start, set())) == "nothing moves"
    local = Local(problem, built.builder, weights, start, {"c-1", "c-2"})
    assert why_not(local) is None
    monkeypatch.setattr(kernel, "TABLE_MAX", 10)
    assert "price tables" in (why_not(local) or "")
    assert Kernel.of(local, 1) is None


def test_a_solve_anneals_compiled_with_a_second_one_on_the_other_core() -> None:
    """A weekly timetable with none of what the compiled moves leave out: the solve anneals
    with them (and a second annealing on the other core), and its answer is checked."""
    rng = random.Random(5)
    cohorts = [make_cohort(id=f"q{k}") for k in range(6)]
    courses = [
        make_course(
            id=f"c{k}",
            sessions=3,
            cohorts=rng.sample([q.id for q in cohorts], 2),
            trainer=f"t{k % 4}",
        )
        for k in range(12)
    ]
    problem = make_problem(
        calendar=make_calendar(days=5, periods_per_day=4),
        courses=courses,
        cohorts=cohorts,
        units=[make_unit()],
        sites=[make_site(id=f"s{k}", capacity=60) for k in range(3)],
        trainers=[make_trainer(id=f"t{k}") for k in range(4)],
    )
    weights = default_weights().model_copy(update={"load_peak": 0})
    solution = solve(problem, weights, SolveParams(time_limit=4, workers=2, seed=1))
    assert solution.stats["anneal_compiled"] is True
    assert "anneal_twin" in solution.stats
    assert solution.status in ("feasible", "optimal")
    result = check(problem, solution.placements, weights, RepairPolicy())
    assert result.violations == [] and result.objective == solution.objective
