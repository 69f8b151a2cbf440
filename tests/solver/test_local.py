"""The local search prices every move exactly (its running cost is the checker's) and breaks
no hard rule; on a plain case it finds the move a planner would make."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings

from solver.checker import check
from solver.domains import DomainBuilder
from solver.grid import TimeGrid
from solver.local import Anneal, Budget, Local, course_site, improve
from solver.problem import Problem
from solver.solution import RepairPolicy
from tests.solver.factories import (
    constructed,
    default_weights,
    make_blackout,
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


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_moves_are_priced_as_the_checker_prices_them(problem: Problem) -> None:
    weights, policy = default_weights(), RepairPolicy()
    built, start, before = constructed(problem, weights)
    if before.violations:  # a construction that left a required course out
        return
    movable = {c.id for c in problem.courses} - built.pinned
    local = Local(problem, built.builder, weights, start, movable)
    assert local.objective() == before.objective - before.breakdown["unscheduled"]
    saved = improve(local, random.Random(0), Budget(400))
    after = check(problem, local.placements(), weights, policy)
    assert after.violations == []
    assert after.objective == before.objective - saved
    assert local.objective() == after.objective - after.breakdown["unscheduled"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_annealing_keeps_the_best_schedule_it_saw_at_the_checkers_price(problem: Problem) -> None:
    """Worse moves are taken too (hot), so the running cost climbs and falls: the best seen
    must be kept, priced as the checker prices it, and be what the search ends on."""
    weights, policy = default_weights(), RepairPolicy()
    built, start, before = constructed(problem, weights)
    if before.violations:
        return
    local = Local(problem, built.builder, weights, start, {c.id for c in problem.courses})
    sa = Anneal(local, random.Random(3))
    gained = sa.run(300, 50.0) + sa.run(300, 0.1)  # hot enough to take most worse moves
    best = check(problem, sa.best_placements(), weights, policy)
    assert best.violations == []
    unscheduled = before.breakdown["unscheduled"]
    assert best.objective - unscheduled == sa.best == before.objective - unscheduled - gained
    now = check(problem, local.placements(), weights, policy)
    assert now.violations == []
    assert now.objective - unscheduled == sa.cost == local.objective()
    sa.finish()
    assert local.objective() == sa.best == sa.cost
    assert check(problem, local.placements(), weights, policy).objective == best.objective


def test_a_lone_session_joins_its_cohorts_other_one() -> None:
    """Two one-period sessions of a cohort on two days pay compactness twice; side by side on
    one day (the course asks for one day) they pay nothing (and the plan's peak of one
    session at a time as before)."""
    problem = make_problem(
        courses=[make_course(min_days=1)],
        units=[make_unit()],
        cohorts=[make_cohort()],
    )
    weights = default_weights()
    grid = TimeGrid.of(problem.calendar)
    start = [place(session=0, day=0, period=0), place(session=1, day=3, period=1)]
    local = Local(problem, DomainBuilder(problem, grid), weights, start, {"c-1"})
    assert local.objective() == 2 * weights.compactness + weights.load_peak
    saved = improve(local, random.Random(1), Budget(500))
    assert saved == 2 * weights.compactness
    moved = local.placements()
    assert check(problem, moved, weights, RepairPolicy()).objective == weights.load_peak
    assert len({(p.day, p.period) for p in moved}) == 2 and len({p.day for p in moved}) == 1
    assert [p.session for p in sorted(moved, key=lambda p: (p.day, p.period))] == [0, 1]


def test_pinned_courses_do_not_move() -> None:
    problem = make_problem(courses=[make_course(min_days=1)])
    weights = default_weights()
    grid = TimeGrid.of(problem.calendar)
    start = [place(session=0, day=0, period=0), place(session=1, day=3, period=1)]
    local = Local(problem, DomainBuilder(problem, grid), weights, start, set())
    assert improve(local, random.Random(1), Budget(500)) == 0
    assert local.placements() == start


def test_a_block_moves_whole_out_of_a_soft_blackout() -> None:
    """A two-day block held on days 0-1, inside a soft blackout of days 0-2, moves whole to
    days 3-4: consecutive working days at one site, as a block must be."""
    problem = make_problem(
        courses=[make_course(pattern="block", sessions=2, length=2)],
        blackouts=[make_blackout(window=make_window(0, 2), hard=False, weight=7)],
    )
    weights = default_weights()
    grid = TimeGrid.of(problem.calendar)
    start = [place(session=0, day=0), place(session=1, day=1)]
    local = Local(problem, DomainBuilder(problem, grid), weights, start, {"c-1"})
    assert local.objective() == 2 * 7 + weights.load_peak
    assert improve(local, random.Random(2), Budget(200)) == 2 * 7
    moved = local.placements()
    assert check(problem, moved, weights, RepairPolicy()).violations == []
    assert sorted((p.session, p.day) for p in moved) == [(0, 3), (1, 4)]


def test_a_course_takes_one_site_swapping_with_the_sessions_there() -> None:
    """c-1 is held at s-1 then s-2, c-2 at s-1 then s-2; at the time c-1 is at s-2, c-2 holds
    s-1. c-1 to s-1 whole, swapping sites with c-2 then, leaves each course at one site: both
    stop paying stability in one move."""
    problem = make_problem(
        sites=[make_site(), make_site(id="s-2")],
        trainers=[make_trainer(), make_trainer(id="t-2")],
        cohorts=[make_cohort(), make_cohort(id="q-2")],
        courses=[make_course(), make_course(id="c-2", cohorts=["q-2"], trainer="t-2")],
    )
    weights = default_weights()
    grid = TimeGrid.of(problem.calendar)
    start = [
        place(session=0, day=0, site="s-1"),
        place(session=1, day=1, site="s-2"),
        place(course="c-2", session=0, day=1, site="s-1", trainer="t-2"),
        place(course="c-2", session=1, day=2, site="s-2", trainer="t-2"),
    ]
    local = Local(problem, DomainBuilder(problem, grid), weights, start, {"c-1", "c-2"})
    before = check(problem, start, weights, RepairPolicy())
    assert before.breakdown["stability"] == 2 * weights.stability
    found = [
        priced
        for seed in range(12)
        if (priced := course_site(local, random.Random(seed), "c-1")) is not None
    ]
    # to s-2 (c-2 stays split) saves one site, to s-1 (swapping with c-2) two
    assert {delta for delta, _, _ in found} == {-weights.stability, -2 * weights.stability}
    local.commit(min(found, key=lambda priced: priced[0])[2])
    after = check(problem, local.placements(), weights, RepairPolicy())
    assert after.violations == []
    assert after.objective == before.objective - 2 * weights.stability
    assert {(p.course, p.day, p.site) for p in local.placements()} == {
        ("c-1", 0, "s-1"),
        ("c-1", 1, "s-1"),
        ("c-2", 1, "s-2"),
        ("c-2", 2, "s-2"),
    }
