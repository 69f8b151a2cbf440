"""The solver on the smallest problems that show each rule: once the rule binds and is kept (or
the plan is infeasible and says why), once it does not bind. Every returned schedule goes
through the independent checker, whose score must equal the solver's."""

from __future__ import annotations

import datetime as dt

import pytest

from solver.checker import check
from solver.params import SolveParams
from solver.problem import Placement, Problem, Weights
from solver.solution import RepairPolicy, Solution
from solver.solve import solve
from tests.solver.factories import (
    default_weights,
    make_blackout,
    make_calendar,
    make_cohort,
    make_course,
    make_pin,
    make_problem,
    make_site,
    make_trainer,
    make_unit,
    make_window,
)

W = default_weights()
FAST = SolveParams(time_limit=5, workers=1, seed=1)


def only(**weights: int) -> Weights:
    """Weights with every term 0 but the given ones, to look at one term at a time."""
    return Weights(**{**{k: 0 for k in W.model_dump()}, **weights})


def solved(
    problem: Problem,
    weights: Weights = W,
    policy: RepairPolicy | None = None,
    params: SolveParams = FAST,
) -> Solution:
    """Solve and verify with the checker: no hard violation, same score."""
    policy = policy or RepairPolicy()
    solution = solve(problem, weights, params, policy)
    if solution.status in ("optimal", "feasible"):
        result = check(problem, solution.placements, weights, policy)
        assert result.violations == []
        assert result.objective == solution.objective
        assert result.breakdown == solution.breakdown
        if solution.status == "optimal":
            assert solution.stats["model_objective"] == result.objective
    return solution


def slots(solution: Solution, course: str) -> list[tuple[object, int]]:
    return sorted((pl.day, pl.period) for pl in solution.placements if pl.course == course)


# Hard rules ------------------------------------------------------------------------------


def test_cohort_attends_one_session_at_a_time() -> None:
    one_slot = make_calendar(days=1, periods_per_day=1)
    sites = [make_site(), make_site(id="s-2")]
    trainers = [make_trainer(), make_trainer(id="t-2")]
    clash = make_problem(
        calendar=one_slot,
        sites=sites,
        trainers=trainers,
        courses=[make_course(sessions=1), make_course(id="c-2", sessions=1)],
    )
    assert solved(clash).status == "infeasible"
    roomy = clash.model_copy(update={"calendar": make_calendar(days=2, periods_per_day=1)})
    s = solved(roomy)
    assert s.status == "optimal" and slots(s, "c-1") != slots(s, "c-2")


def test_site_and_trainer_hold_one_session_at_a_time() -> None:
    cal = make_calendar(days=1, periods_per_day=1)
    two_cohorts = [make_cohort(), make_cohort(id="q-2")]
    courses = [make_course(sessions=1), make_course(id="c-2", sessions=1, cohorts=["q-2"])]
    shared = make_problem(calendar=cal, cohorts=two_cohorts, courses=courses)
    assert solved(shared).status == "infeasible"  # one site, one trainer, one slot
    more_site = shared.model_copy(update={"sites": [make_site(), make_site(id="s-2")]})
    assert solved(more_site).status == "infeasible"  # still one trainer
    both = more_site.model_copy(update={"trainers": [make_trainer(), make_trainer(id="t-2")]})
    s = solved(both)
    assert s.status == "optimal"
    assert (
        len({pl.site for pl in s.placements}) == 2 and len({pl.trainer for pl in s.placements}) == 2
    )


def test_trainer_unavailable_is_never_used_then() -> None:
    away = make_trainer(unavailable=[make_window(0, 3, reason="overseas mission")])
    p = make_problem(trainers=[away], courses=[make_course(sessions=1)])
    s = solved(p)
    assert s.status == "optimal" and slots(s, "c-1") == [(4, 0)] or slots(s, "c-1")[0][0] == 4
    all_week = make_trainer(unavailable=[make_window(0, 4, reason="overseas mission")])
    s = solved(make_problem(trainers=[all_week], courses=[make_course(sessions=1)]))
    assert s.status == "infeasible"
    assert any("t-1" in line for line in s.conflicts + s.prechecks)


def test_hard_blackout_and_course_window() -> None:
    p = make_problem(
        courses=[make_course(sessions=1, earliest=1, latest=3)],
        blackouts=[
            make_blackout(
                scope="unit", target="u-1", window=make_window(1, 2), reason="two sessions"
            )
        ],
    )
    s = solved(p)
    assert s.status == "optimal" and [d for d, _ in slots(s, "c-1")] == [3]
    closed = p.model_copy(update={"blackouts": [make_blackout(window=make_window(1, 3))]})
    assert solved(closed).status == "infeasible"


def test_hard_capacity_picks_the_big_site() -> None:
    sites = [make_site(capacity=10), make_site(id="s-2", capacity=50)]
    s = solved(make_problem(sites=sites))
    assert {pl.site for pl in s.placements} == {"s-2"}
    small = make_problem(sites=[make_site(capacity=10)])
    assert solved(small).status == "infeasible"


def test_block_course_runs_on_consecutive_working_days_at_one_site() -> None:
    cal = make_calendar(
        first_date=dt.date(2027, 2, 1), last_date=dt.date(2027, 2, 19), holiday_country="CN"
    )
    block = make_course(sessions=4, length=2, pattern="block")
    s = solved(
        make_problem(calendar=cal, courses=[block], sites=[make_site(), make_site(id="s-2")])
    )
    assert s.status == "optimal"
    days = [d for d, _ in slots(s, "c-1")]
    assert len({pl.site for pl in s.placements}) == 1
    # Spring Festival 2027-02-05..10 and the weekend: four consecutive working days never span it.
    assert all(
        isinstance(d, dt.date) and not dt.date(2027, 2, 5) <= d <= dt.date(2027, 2, 10)
        for d in days
    )


def test_pinned_session_stays() -> None:
    p = make_problem(pins=[make_pin(day=3, period=1)])
    s = solved(p)
    assert (3, 1) in slots(s, "c-1")


def test_unsatisfiable_pin_is_named() -> None:
    p = make_problem(
        pins=[make_pin(day=2)],
        blackouts=[make_blackout(window=make_window(2), reason="city holiday")],
    )
    s = solved(p)
    assert s.status == "infeasible"
    assert any("pinned" in c or "day 2" in c or "2" in c for c in s.conflicts + s.prechecks)


# Soft terms --------------------------------------------------------------------------------


def test_soft_blackout_avoided_when_possible_paid_when_not() -> None:
    soft = make_blackout(
        hard=False, weight=7, window=make_window(0, 3), reason="construction season"
    )
    s = solved(
        make_problem(courses=[make_course(sessions=1)], blackouts=[soft]), only(soft_blackout=1)
    )
    assert s.objective == 0
    everywhere = soft.model_copy(update={"window": make_window(0, 4)})
    s = solved(
        make_problem(courses=[make_course(sessions=1)], blackouts=[everywhere]),
        only(soft_blackout=1),
    )
    assert s.objective == 7 and s.breakdown["soft_blackout"] == 7


def test_capacity_overflow_and_preferred_site() -> None:
    sites = [make_site(capacity=15, capacity_hard=False), make_site(id="s-2", capacity=20)]
    course = make_course(sessions=1, preferred_sites=["s-1"])
    s = solved(
        make_problem(sites=sites, courses=[course]), only(capacity_overflow=2, preferred_site=3)
    )
    # s-1 costs 2*5 = 10 (5 over), s-2 costs 3 (not preferred): the solver takes s-2.
    assert s.objective == 3 and s.placements[0].site == "s-2"


def test_min_days_and_compactness() -> None:
    cal = make_calendar(days=1, periods_per_day=3)
    course = make_course(sessions=2, min_days=2)
    s = solved(make_problem(calendar=cal, courses=[course]), only(min_days=5, compactness=1))
    # One day only: 5 for the missing day; the two sessions sit side by side (not isolated).
    assert s.objective == 5 and s.breakdown["compactness"] == 0
    cal2 = make_calendar(days=2, periods_per_day=3)
    s = solved(make_problem(calendar=cal2, courses=[course]), only(min_days=5, compactness=1))
    assert s.objective == 2  # two days, each session alone in its day


def test_stability_density_load_peak_and_trainer_load() -> None:
    cal = make_calendar(days=2, periods_per_day=1)
    sites = [make_site(), make_site(id="s-2")]
    trainers = [make_trainer(max_sessions_per_week=1), make_trainer(id="t-2")]
    units = [make_unit(headcount=40, away_cap=0.5)]
    cohorts = [make_cohort(size=20), make_cohort(id="q-2", size=20)]
    courses = [make_course(sessions=1), make_course(id="c-2", sessions=1, cohorts=["q-2"])]
    p = make_problem(
        calendar=cal, sites=sites, trainers=trainers, units=units, cohorts=cohorts, courses=courses
    )
    s = solved(p, only(density=1, load_peak=4, trainer_load=20))
    # Both on one day would put 40 of 40 away (cap 20) and run 2 at once: spread over two days.
    assert s.objective == 4 and len({pl.day for pl in s.placements}) == 2
    one_day = p.model_copy(update={"calendar": make_calendar(days=1, periods_per_day=1)})
    s = solved(one_day, only(density=1, load_peak=4, trainer_load=20))
    assert s.breakdown["density"] == 20 and s.breakdown["load_peak"] == 8
    assert s.breakdown["trainer_load"] == 0  # t-2 takes one, t-1 the other


def test_unscheduled_course_is_listed_with_priority_cost() -> None:
    cal = make_calendar(days=1, periods_per_day=1)
    courses = [
        make_course(sessions=1, priority=3, required=False),
        make_course(id="c-2", sessions=1, priority=1, required=False),
    ]
    s = solved(make_problem(calendar=cal, courses=courses), only(unscheduled=100))
    assert s.status == "optimal" and s.objective == 100
    assert [u.course for u in s.unscheduled] == ["c-2"] and s.unscheduled[0].reason


# Modes, determinism, explanation -----------------------------------------------------------


def test_same_seed_one_worker_gives_the_same_schedule() -> None:
    from solver.scenarios import generate

    problem = generate("S", 1).problem
    params = SolveParams(time_limit=3, workers=1, seed=7)
    a = solve(problem, W, params)
    b = solve(problem, W, params)
    assert a.status in ("optimal", "feasible")
    assert a.placements == b.placements and a.objective == b.objective


def test_repair_moves_the_dropped_trainers_sessions_and_keeps_frozen_ones() -> None:
    cal = make_calendar(days=10, periods_per_day=1)
    trainers = [make_trainer(), make_trainer(id="t-2")]
    cohorts = [make_cohort(), make_cohort(id="q-2")]
    courses = [
        make_course(sessions=3, trainer="t-1", topic=None),
        make_course(id="c-2", sessions=3, cohorts=["q-2"], topic="law"),
    ]
    sites = [make_site(), make_site(id="s-2")]
    base = make_problem(
        calendar=cal, trainers=trainers, cohorts=cohorts, courses=courses, sites=sites
    )
    first = solved(base)
    assert first.status in ("optimal", "feasible")
    # t-2 drops out from day 3 on; today is day 1, freeze 2 days: days 1-2 are frozen.
    dropped = trainers[1].model_copy(
        update={"unavailable": [make_window(3, 9, reason="sick leave")]}
    )
    event = base.model_copy(
        update={"trainers": [trainers[0], dropped], "previous": first.placements}
    )
    policy = RepairPolicy(now=1, freeze_days=2)
    s = solved(event, policy=policy, params=SolveParams(mode="repair", time_limit=5, workers=1))
    assert s.status in ("optimal", "feasible")
    before = {(p.course, p.day, p.period, p.site, p.trainer) for p in first.placements}
    after = {(p.course, p.day, p.period, p.site, p.trainer) for p in s.placements}
    for pl in first.placements:
        frozen = isinstance(pl.day, int) and pl.day < 3
        if frozen:
            assert any(a[:4] == (pl.course, pl.day, pl.period, pl.site) for a in after)
    assert not any(
        p.trainer == "t-2" and isinstance(p.day, int) and p.day >= 3 for p in s.placements
    )
    moved = len(before - after)
    must_move = sum(
        1 for p in first.placements if p.trainer == "t-2" and isinstance(p.day, int) and p.day >= 3
    )
    # Only what had to move moved (a new trainer may need a new time: at most one more each).
    assert moved <= 2 * must_move


def test_infeasible_plan_names_the_conflicting_rules() -> None:
    course = make_course(
        name="Rule of law, Datong county",
        sessions=1,
        trainer="t-17",
        topic=None,
        earliest=0,
        latest=2,
    )
    trainer = make_trainer(id="t-17", unavailable=[make_window(0, 3, reason="overseas mission")])
    s = solve(make_problem(trainers=[trainer], courses=[course]), W, FAST)
    assert s.status == "infeasible"
    text = " ".join(s.conflicts)
    assert "t-17" in text and "Datong" in text


def test_invalid_problem_is_reported_not_raised() -> None:
    bad = make_problem(courses=[make_course(trainer="t-99", topic=None)])
    s = solve(bad, W, FAST)
    assert s.status == "invalid" and any('unknown trainer "t-99"' in e for e in s.prechecks)


@pytest.mark.slow
def test_s_scenario_solves_feasibly() -> None:
    from solver.scenarios import generate

    problem = generate("S", 1).problem
    s = solved(problem, params=SolveParams(time_limit=6, workers=2, seed=1))
    assert s.status in ("optimal", "feasible") and not s.unscheduled


def test_repair_after_a_course_is_cancelled_and_a_trainer_removed() -> None:
    trainers = [make_trainer(), make_trainer(id="t-2")]
    courses = [make_course(sessions=1), make_course(id="c-2", sessions=1)]
    base = make_problem(trainers=trainers, courses=courses)
    first = solved(base)
    gone = [pl.model_copy(update={"trainer": "t-gone"}) for pl in first.placements]
    event = base.model_copy(update={"courses": courses[:1], "previous": gone})
    s = solved(event, policy=RepairPolicy(now=0, freeze_days=1), params=SolveParams(mode="repair"))
    assert s.status in ("optimal", "feasible")
    assert [pl.course for pl in s.placements] == ["c-1"]


def test_unknown_time_zone_and_holiday_country_are_named() -> None:
    from solver.files import InvalidFile, parse_problem

    raw = make_problem().model_dump(mode="json")
    raw["calendar"].update(time_zone="Mars/Olympus", holiday_country="XX")
    with pytest.raises(InvalidFile) as caught:
        parse_problem(raw)
    assert any(e.startswith("calendar.time_zone:") for e in caught.value.errors)
    assert any(e.startswith("calendar.holiday_country:") for e in caught.value.errors)


def test_a_stopped_solve_returns_its_best_schedule_so_far() -> None:
    from solver.scenarios import generate

    problem = generate("S", 1).problem
    s = solve(problem, W, SolveParams(time_limit=60, workers=1), stop=lambda: True)
    assert s.stats.get("stopped_early") is True
    assert s.stats["wall_s"] < 30
    if s.status in ("optimal", "feasible"):
        assert check(problem, s.placements, W, RepairPolicy()).violations == []


def test_a_completed_hint_prices_the_schedule_as_the_checker_does() -> None:
    from solver.grid import TimeGrid
    from solver.lns import complete_hint, group, set_hints
    from solver.model import build_model

    cal = make_calendar(days=4, periods_per_day=2)
    courses = [
        make_course(sessions=2, min_days=2),
        make_course(id="c-2", sessions=1),
        make_course(id="c-3", sessions=1, cohorts=["q-2"]),
    ]
    problem = make_problem(
        calendar=cal,
        cohorts=[make_cohort(), make_cohort(id="q-2")],
        courses=courses,
        blackouts=[make_blackout(scope="cohort", target="q-1", window=make_window(0), hard=False)],
    )
    policy = RepairPolicy()
    first = solved(problem)
    # Both of q-1's courses on its soft-blacked-out day 0: a schedule that pays for it.
    site, trainer = first.placements[0].site, first.placements[0].trainer
    where = {("c-1", 0): (0, 0), ("c-1", 1): (1, 0), ("c-2", 0): (0, 1), ("c-3", 0): (2, 0)}
    costly = [
        Placement(course=c, session=i, day=d, period=p, site=site, trainer=trainer)
        for (c, i), (d, p) in where.items()
    ]
    expected = check(problem, costly, W, policy)
    assert expected.violations == [] and expected.objective > first.objective
    mv = build_model(problem, TimeGrid.of(cal), W, policy)
    set_hints(mv, mv.model, group(costly))
    assert len(mv.model.proto.solution_hint.vars) < len(mv.model.proto.variables)
    assert complete_hint(mv.model, 5.0, 20.0) == expected.objective  # proven: the exact cost
    hint = dict(
        zip(mv.model.proto.solution_hint.vars, mv.model.proto.solution_hint.values, strict=True)
    )
    assert len(hint) == len(mv.model.proto.variables)
    objective = mv.model.proto.objective
    value = (
        sum(c * hint[v] for v, c in zip(objective.vars, objective.coeffs, strict=True))
        + objective.offset
    )
    assert round(value) == expected.objective


def test_a_repair_with_nothing_to_change_returns_the_published_schedule_at_once() -> None:
    courses = [make_course(sessions=2), make_course(id="c-2", sessions=1)]
    base = make_problem(calendar=make_calendar(days=5), courses=courses)
    first = solved(base)
    event = base.model_copy(update={"previous": first.placements})
    s = solved(event, policy=RepairPolicy(now=0, freeze_days=1), params=SolveParams(mode="repair"))
    assert s.placements == first.placements
    assert s.stats["repair_settled"] == "nothing changed" and s.stats["lns_steps"] == 0


def test_a_repair_stops_once_nothing_near_the_event_does_better() -> None:
    cal = make_calendar(days=10, periods_per_day=1)
    trainers = [make_trainer(), make_trainer(id="t-2")]
    courses = [make_course(sessions=3), make_course(id="c-2", sessions=3, cohorts=["q-2"])]
    base = make_problem(
        calendar=cal,
        trainers=trainers,
        cohorts=[make_cohort(), make_cohort(id="q-2")],
        courses=courses,
        sites=[make_site(), make_site(id="s-2")],
    )
    first = solved(base)
    leaves = trainers[1].model_copy(update={"unavailable": [make_window(0, 9, reason="left")]})
    event = base.model_copy(
        update={"trainers": [trainers[0], leaves], "previous": first.placements}
    )
    params = SolveParams(mode="repair", time_limit=30, workers=1)
    s = solved(event, policy=RepairPolicy(now=0, freeze_days=0), params=params)
    assert s.status in ("optimal", "feasible")
    assert s.stats["repair_settled"] in ("proven", "nothing better found")
    assert all(pl.trainer == "t-1" for pl in s.placements)
    # It ended long before its limit (deterministic time; wall time is not asserted).
    assert s.stats["lns_steps"] <= 3


def test_progress_counts_every_neighbourhood_and_improvement() -> None:
    from solver.scenarios import generate
    from solver.solve import Progress

    seen: list[Progress] = []
    problem = generate("S", 2).problem
    s = solve(problem, W, SolveParams(time_limit=3, workers=1, seed=2), progress=seen.append)
    steps = [p.steps for p in seen]
    assert steps == sorted(steps) and steps[-1] == s.stats["lns_steps"] >= 1
    assert seen[-1].improvements == s.stats["improvements"]
    assert any(p.phase.startswith("searching") for p in seen)


@pytest.mark.slow
def test_schedules_kept_on_a_steps_word_are_checked_before_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where checking is dear, better schedules are taken on the step model's word and the
    checker runs far less often, yet the answer is checked and its cost is the checker's."""
    import solver.solve as solve_module
    from config.defaults import WEIGHTS
    from solver.scenarios import generate

    problem = generate("S", 2).problem
    weights = Weights.resolve(WEIGHTS, problem.weights)
    calls: list[int] = []

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(solve_module, "check", counted)
    monkeypatch.setattr(solve_module, "CHECK_DEAR", -1.0)  # every check is dear
    monkeypatch.setattr(solve_module, "CHECK_EVERY", 10**6)  # and none on the way
    s = solve(problem, weights, SolveParams(time_limit=8, workers=1, seed=1))
    # Checked: the construction's two schedules (as built and settled), and the best once,
    # before the answer; the steps' improvements (at least one after the construction's)
    # went unchecked until then.
    assert s.status == "feasible" and s.stats["improvements"] >= 3
    assert len(calls) == 3
    again = check(problem, s.placements, weights, RepairPolicy())
    assert again.violations == [] and again.objective == s.objective


def test_costs_of_a_trainer_or_the_plan_are_shared_out_among_the_courses_they_name() -> None:
    from solver.solution import Cost
    from solver.solve import course_costs

    costs = [
        Cost(term="soft_blackout", cost=5, message="", course="a", session=0),
        Cost(term="trainer_load", cost=20, message="", courses=["a", "b", "c"]),
        Cost(term="load_peak", cost=10, message=""),  # names no course: seeds nothing
    ]
    assert course_costs(costs) == {"a": 5 + 7, "b": 7, "c": 7}


def test_steps_are_short_where_their_set_up_is_cheap_and_never_by_the_clock_on_one_worker() -> None:
    from solver.solve import SHORT_STEP, STEP_LIMIT, STEP_RATIO, Run

    def run(workers: int) -> Run:
        params = SolveParams(time_limit=10, workers=workers, seed=1)
        return Run(make_problem(), W, RepairPolicy(), params, lambda p: None, 0.0, 0, {})

    two = run(2)
    assert two.step_limit() == STEP_LIMIT  # nothing measured yet
    two.timed_setup(0.01)
    assert two.step_limit() == SHORT_STEP
    for _ in range(30):
        two.timed_setup(STEP_LIMIT / STEP_RATIO * 2)
    assert two.step_limit() == STEP_LIMIT
    one = run(1)
    one.timed_setup(0.01)
    assert one.step_limit() == STEP_LIMIT
