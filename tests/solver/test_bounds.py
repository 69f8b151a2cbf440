"""The product's own lower bound: never above the best schedule's cost, and stronger than the
term-by-term counts where the time terms trade off against each other."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model as cp

from solver import bounds
from solver.bounds import lower_bound
from solver.checker import check
from solver.grid import TimeGrid
from solver.model import build_model
from solver.params import SolveParams
from solver.problem import (
    Blackout,
    Problem,
    Weights,
)
from solver.scenarios import generate
from solver.solution import RepairPolicy
from solver.solve import solve
from tests.solver.factories import (
    default_weights,
    make_calendar,
    make_cohort,
    make_course,
    make_problem,
    make_site,
    make_trainer,
    make_unit,
    make_window,
)
from tests.solver.strategies import TIMED, problems


def bound_of(problem: Problem, weights: Weights, time_limit: float = 2.0) -> int:
    grid = TimeGrid.of(problem.calendar)
    return lower_bound(problem, grid, weights, RepairPolicy(), time_limit=time_limit)


def optimum(problem: Problem, weights: Weights) -> int | None:
    """The best schedule's cost, proven by CP-SAT on the full model; None when none exists."""
    grid = TimeGrid.of(problem.calendar)
    mv = build_model(problem, grid, weights, RepairPolicy())
    solver = cp.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 30
    status = solver.solve(mv.model)
    if status == cp.INFEASIBLE:
        return None
    assert status == cp.OPTIMAL, "the test plan is too big to prove its optimum"
    return round(solver.objective_value)


# ---------------------------------------------------------------------------------------------
# Generated plans: the bound never passes the optimum


weight_sets = st.fixed_dictionaries(
    {term: st.sampled_from([0, 1, 7, 30]) for term in Weights.model_fields}
).map(lambda w: Weights(**w))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    problem=problems(TIMED),
    weights=st.one_of(st.just(default_weights()), weight_sets),
    split=st.booleans(),
)
def test_the_bound_never_exceeds_the_optimum(
    problem: Problem, weights: Weights, split: bool
) -> None:
    best = optimum(problem, weights)
    if best is None:
        return
    # split: every course of several units is split into a part per unit
    with patch.object(bounds, "JOIN_MAX_SESSIONS", 0 if split else bounds.JOIN_MAX_SESSIONS):
        assert bound_of(problem, weights) <= best, problem.model_dump_json()


# ---------------------------------------------------------------------------------------------
# The relaxation beats the counts


def spread_alone() -> Problem:
    """A cohort whose only course is 4 half-day sessions on 4 distinct days (the default
    plan's 5 days x 2 periods): each session sits alone in its day, unless two share a day
    and the course misses a day it wants (10 > 2 x 1), so the best schedule pays 4."""
    return make_problem(courses=[make_course(sessions=4)])


def test_half_day_sessions_alone_in_their_day_are_counted() -> None:
    problem, weights = spread_alone(), default_weights()
    best = optimum(problem, weights)
    assert best == 4 * weights.compactness + weights.load_peak
    assert bound_of(problem, weights, time_limit=0) < best  # the counts see no isolation
    assert bound_of(problem, weights) == best


def test_spread_days_traded_against_compactness_are_counted() -> None:
    """With compactness dearer than a missed day, the course pairs its sessions instead."""
    problem = spread_alone()
    weights = default_weights().model_copy(update={"compactness": 30})
    best = optimum(problem, weights)
    assert best == 2 * weights.min_days + weights.load_peak
    assert bound_of(problem, weights) == best


def test_a_unit_over_its_cap_pays_for_courses_that_must_overlap() -> None:
    """Two cohorts of one unit (cap 30), 20 each, each with a full-day course on the same
    single day: 10 cadres over the cap, whatever the site or trainer."""
    day = {"earliest": 2, "latest": 2, "length": 2, "sessions": 1}
    problem = make_problem(
        units=[make_unit(away_cap=0.3)],
        cohorts=[make_cohort(id="q-1"), make_cohort(id="q-2")],
        courses=[
            make_course(id="c-1", cohorts=["q-1"], **day),
            make_course(id="c-2", cohorts=["q-2"], **day),
        ],
        trainers=[make_trainer(id="t-1"), make_trainer(id="t-2")],
        sites=[make_site(id="s-1"), make_site(id="s-2")],
    )
    weights = default_weights()
    best = optimum(problem, weights)
    assert best is not None and best >= 10 * weights.density
    assert bound_of(problem, weights, time_limit=0) < 10 * weights.density
    assert 10 * weights.density <= bound_of(problem, weights) <= best


def test_a_sole_trainer_over_the_weekly_limit_pays() -> None:
    """The only trainer (2 a week) must teach 4 sessions inside one week."""
    problem = make_problem(
        trainers=[make_trainer(max_sessions_per_week=2)],
        courses=[make_course(sessions=4, pattern="block", length=2)],
    )
    weights = default_weights()
    best = optimum(problem, weights)
    assert best is not None
    bound = bound_of(problem, weights)
    assert bound >= 2 * weights.trainer_load
    assert bound <= best


def test_a_sole_trainer_soft_blackout_over_the_quiet_days_is_counted() -> None:
    """The only trainer would rather not teach on days 0-3 (weight 7); day 4 is the unit's
    busy day (soft, weight 50). Each session pays one or the other, the trainer's the less."""
    problem = make_problem(
        trainers=[make_trainer(id="t-1")],
        courses=[make_course(trainer="t-1", sessions=2, min_days=1)],
        blackouts=[
            Blackout(scope="trainer", target="t-1", window=make_window(0, 3), hard=False, weight=7),
            Blackout(scope="unit", target="u-1", window=make_window(4), hard=False, weight=50),
        ],
    )
    weights = default_weights().model_copy(update={"compactness": 0, "load_peak": 0})
    best = optimum(problem, weights)
    assert best == 2 * 7
    assert bound_of(problem, weights) == best  # counted per start, whatever the relaxation
    assert bound_of(problem, weights, time_limit=0) == best


def test_a_preferred_site_open_only_on_a_busy_day_is_traded_against_it() -> None:
    """The course prefers s-2, open on day 4 only, which is the unit's busy day (soft, 50):
    it is held at s-1 instead and pays for the preference, never 0."""
    problem = make_problem(
        sites=[make_site(id="s-1"), make_site(id="s-2", open=[make_window(4)])],
        courses=[make_course(sessions=2, min_days=1, preferred_sites=["s-2"])],
        blackouts=[
            Blackout(scope="unit", target="u-1", window=make_window(4), hard=False, weight=50)
        ],
    )
    weights = default_weights().model_copy(update={"compactness": 0, "load_peak": 0})
    best = optimum(problem, weights)
    assert best == 2 * weights.preferred_site
    assert bound_of(problem, weights) == best


def test_a_course_of_several_units_split_stays_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forum of two units' cohorts, split into a part per unit, pays its soft blackout once."""
    problem = make_problem(
        calendar=make_calendar(days=2),
        units=[make_unit(id="u-1"), make_unit(id="u-2")],
        cohorts=[make_cohort(id="q-1", unit="u-1"), make_cohort(id="q-2", unit="u-2")],
        courses=[make_course(sessions=1, length=2, cohorts=["q-1", "q-2"])],
        sites=[make_site(capacity=40)],
        blackouts=[Blackout(scope="plan", window=make_window(0, 1), hard=False, weight=40)],
    )
    monkeypatch.setattr(bounds, "JOIN_MAX_SESSIONS", 0)
    weights = default_weights()
    best = optimum(problem, weights)
    assert best == 40 + weights.load_peak
    assert bound_of(problem, weights) == best


# ---------------------------------------------------------------------------------------------
# The reference city plans


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 3])
def test_the_bound_stays_under_the_planted_schedule_of_a_city_year(seed: int) -> None:
    scenario = generate("S", seed)
    problem = scenario.problem
    weights = Weights.resolve(default_weights().model_dump(), problem.weights)
    planted = check(problem, list(scenario.witness), weights, RepairPolicy())
    counted = bound_of(problem, weights, time_limit=0)
    bound = bound_of(problem, weights, time_limit=5)
    assert counted < bound <= planted.objective


@pytest.mark.slow
def test_the_bound_stays_under_what_the_solver_finds_on_a_city_year() -> None:
    problem = generate("S", 1).problem
    weights = default_weights()
    solution = solve(problem, weights, SolveParams(time_limit=4, workers=1, seed=1))
    assert solution.objective is not None
    assert bound_of(problem, weights) <= solution.objective
