"""Neighbourhood steps: what a step may move and what it must leave where it is."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from solver.domains import DomainBuilder
from solver.grid import TimeGrid
from solver.lns import Search, group, nearest
from solver.model import BuildOptions, WholeBackdrop, build_model
from solver.params import SolveParams
from solver.problem import Placement, Problem
from solver.scenarios import generate
from solver.solution import RepairPolicy
from solver.solve import extract
from tests.solver.factories import (
    default_weights,
    make_blackout,
    make_calendar,
    make_cohort,
    make_course,
    make_problem,
    make_site,
    make_trainer,
    make_window,
    place,
)

W = default_weights()


def search(problem: Problem) -> Search:
    from solver.domains import DomainBuilder

    builder = DomainBuilder(problem, TimeGrid.of(problem.calendar))
    return Search(problem, builder, W, RepairPolicy(), SolveParams(workers=1, seed=3), extract)


def spread_plan() -> tuple[Problem, list[Placement]]:
    """One course of four sessions on days 0, 2, 4 and 6 (one period a day); every day but
    day 7 is softly blacked out, so each session would rather be on day 7."""
    problem = make_problem(
        calendar=make_calendar(days=8, periods_per_day=1),
        courses=[make_course(sessions=4, min_days=1)],
        blackouts=[make_blackout(window=make_window(0, 6), hard=False)],
    )
    return problem, [place("c-1", k, 2 * k) for k in range(4)]


def test_a_days_step_moves_only_the_sessions_inside_its_stretch() -> None:
    problem, current = spread_plan()
    grid = TimeGrid.of(problem.calendar)
    window = (grid.slot(5, 0), grid.slot(7, 0))  # days 5-7 hold the last session only
    r = search(problem).step(current, {"c-1"}, 5.0, window=window)
    assert r.placements is not None
    moved = {(p.day, p.period) for p in r.placements} - {(p.day, p.period) for p in current}
    assert moved == {(7, 0)}  # the session of day 6 went to day 7; days 0, 2, 4 kept theirs


def test_a_step_without_a_stretch_may_move_every_session() -> None:
    problem, current = spread_plan()
    r = search(problem).step(current, {"c-1"}, 5.0)
    assert r.placements is not None
    assert (7, 0) in {(p.day, p.period) for p in r.placements}
    assert len({(p.day, p.period) for p in r.placements} - {(p.day, p.period) for p in current})


def test_a_stretch_holds_whole_days_and_leaves_out_blocks_that_cross_it() -> None:
    problem = make_problem(
        calendar=make_calendar(days=6, periods_per_day=2),
        cohorts=[make_cohort(), make_cohort(id="q-2")],
        courses=[
            make_course(sessions=2),
            make_course(id="b-1", pattern="block", sessions=3, cohorts=["q-2"]),
        ],
    )
    current = [
        place("c-1", 0, 1, 1),
        place("c-1", 1, 4, 0),
        *(place("b-1", k, 2 + k, 0) for k in range(3)),
    ]
    grid = TimeGrid.of(problem.calendar)
    s = search(problem)
    for seed in range(20):  # whatever session the stretch is centred on
        s.rng.seed(seed)
        found = s.stretch(current, 1)
        assert found is not None
        free, (lo, hi) = found
        assert lo % 2 == 0 and hi % 2 == 1  # whole days of two periods
        slots = {pl.course: set() for pl in current}
        for pl in current:
            slots[pl.course].add(grid.slot(pl.day, pl.period))
        touched = {c for c, xs in slots.items() if any(lo <= x <= hi for x in xs)}
        crossing = {c for c in touched if not all(lo <= x <= hi for x in slots[c])}
        assert free == touched - (crossing & {"b-1"})


def test_a_days_step_over_every_course_proves_nothing_about_the_plan() -> None:
    # Every course is free but the sessions outside the stretch are fixed: an optimal answer
    # is optimal for the stretch only, not for the plan (comp01 once stopped at 6, "optimal",
    # where 5 exists).
    problem, current = spread_plan()
    grid = TimeGrid.of(problem.calendar)
    s = search(problem)
    within = s.step(current, {"c-1"}, 5.0, window=(grid.slot(0, 0), grid.slot(1, 0)))
    assert within.status == "OPTIMAL"
    whole = s.step(current, {"c-1"}, 5.0)
    assert whole.status == "OPTIMAL_ALL"


def test_a_step_says_whether_it_beat_where_it_started_as_the_checker_does() -> None:
    from solver.checker import check

    problem, current = spread_plan()
    s = search(problem)
    before = check(problem, current, W, RepairPolicy()).objective
    r = s.step(current, {"c-1"}, 5.0)
    assert r.placements is not None and r.better
    after = check(problem, r.placements, W, RepairPolicy()).objective
    assert r.start_objective is not None and r.model_objective is not None
    assert after - before == r.model_objective - r.start_objective < 0
    # From the best schedule there is nothing better: the step says so, and the run need not
    # check its schedule again.
    again = s.step(r.placements, {"c-1"}, 5.0)
    assert again.status == "OPTIMAL_ALL" and not again.better


def test_fixed_courses_of_a_free_cohort_are_constants_the_free_one_sits_beside() -> None:
    """c-2 is fixed on days 1 and 3, period 0, with cohort q-1; c-1 (one half-day, same
    cohort) is free. Each fixed session is a constant (not a choice among the course's slots
    held by propagation), and c-1 goes beside one of them, where neither is isolated."""
    from solver.model import BuildOptions, build_model

    problem = make_problem(
        calendar=make_calendar(days=5, periods_per_day=2),
        courses=[
            make_course(id="c-1", sessions=1, min_days=1),
            make_course(id="c-2", sessions=2, min_days=1),
        ],
    )
    grid = TimeGrid.of(problem.calendar)
    fixed = {"c-2": [place("c-2", 0, 1, 0), place("c-2", 1, 3, 0)]}
    mv = build_model(problem, grid, W, RepairPolicy(), BuildOptions(fixed=fixed))
    for sv, day in zip(mv.courses["c-2"].sessions, (1, 3), strict=True):
        assert sv.domain == {grid.slot(day, 0)} and set(sv.sites) == {"s-1"}
        start = mv.model.proto.variables[sv.start.index]  # type: ignore[union-attr]
        assert list(start.domain) == [grid.slot(day, 0)] * 2
    current = [place("c-1", 0, 0, 0), *fixed["c-2"]]
    r = search(problem).step(current, {"c-1"}, 5.0)
    assert r.placements is not None and r.better
    where = {(p.course, p.day, p.period) for p in r.placements}
    assert where - {("c-1", 1, 1), ("c-1", 3, 1)} == {("c-2", 1, 0), ("c-2", 3, 0)}


def test_kinds_that_saved_more_are_drawn_more_and_none_is_dropped() -> None:
    from collections import Counter

    from solver.lns import KINDS

    problem, current = spread_plan()
    s = search(problem)
    for _ in range(5):
        s.credit("days", 30, 100)  # days steps saved 30 % each
        for kind in KINDS:
            if kind != "days":
                s.credit(kind, 0, 100)
    drawn = Counter(s.pick(current, 1, {"c-1": 1})[0].split(":")[0] for _ in range(400))
    assert drawn["days"] > 0.5 * 400
    assert all(drawn[kind] > 0 for kind in s.scores)


def test_a_step_keeps_the_sites_in_use_and_a_few_good_others_and_proves_nothing() -> None:
    """Ten sites for 20 trainees: s-0..s-4 seat 10 (soft), s-5..s-9 seat 30. Narrowed for a
    step, the course keeps its site now (s-2) and five others, at least two of them big
    enough; and a step over every course with fewer options proves nothing about the plan."""
    from solver.lns import SITE_CHOICES

    sites = [
        make_site(id=f"s-{i}", capacity=10 if i < 5 else 30, capacity_hard=False) for i in range(10)
    ]
    problem = make_problem(sites=sites, courses=[make_course(sessions=1, min_days=1)])
    s = search(problem)
    current = [place("c-1", 0, 0, 0, site="s-2")]
    kept = s.narrowed("c-1", current).sites
    assert len(kept) == SITE_CHOICES and "s-2" in kept
    assert len([k for k in kept if int(k[2:]) >= 5]) >= (SITE_CHOICES - 1) // 2
    r = s.step(current, {"c-1"}, 5.0, narrow=True)
    assert r.placements is not None and r.placements[0].site in kept
    assert r.status == "OPTIMAL"  # not OPTIMAL_ALL: other sites were left out of this step
    assert s.step(current, {"c-1"}, 5.0).status == "OPTIMAL_ALL"


@given(
    st.lists(st.tuples(st.integers(0, 30), st.sampled_from("abcd")), min_size=1, max_size=40),
    st.integers(0, 30),
    st.integers(1, 50),
)
def test_nearest_sessions_are_those_a_full_sort_by_distance_gives(
    pairs: list[tuple[int, str]], centre: int, count: int
) -> None:
    slots = sorted(pairs)
    near = sorted(slots, key=lambda x: (abs(x[0] - centre), x))[:count]
    assert nearest(slots, centre, count) == (min(s for s, _ in near), max(s for s, _ in near))


def test_a_step_model_from_the_whole_schedule_is_the_model_folded_afresh() -> None:
    """Taking a step's courses out of the whole schedule's backdrop (kept between steps, and
    moved along with each step's result) builds exactly the model that folding every other
    course again builds."""
    scenario = generate("S", 2)
    problem, placements = scenario.problem, list(scenario.witness)
    grid = TimeGrid.of(problem.calendar)
    builder = DomainBuilder(problem, grid)  # shared by the three builds: same domains
    by_course = group(placements)
    whole = WholeBackdrop.of(problem, grid, by_course)
    ids = [c.id for c in problem.courses]
    rng = random.Random(5)
    for _ in range(3):
        free = set(rng.sample(ids, 15))
        fixed = {c: by_course.get(c, []) for c in ids if c not in free}
        moved = whole.moved(problem, grid, dict.fromkeys(free, [])).moved(
            problem, grid, {c: by_course[c] for c in free if c in by_course}
        )
        models = [
            build_model(
                problem,
                grid,
                W,
                RepairPolicy(),
                BuildOptions(fixed=fixed, builder=builder, whole=w),
            ).model.proto.__str__()
            for w in (None, whole, moved)
        ]
        assert models[0] == models[1] == models[2]


def test_a_broken_schedule_is_folded_afresh() -> None:
    """Two sessions at one site and time: busy sets cannot give one back, so a step's
    backdrop is not taken from the whole schedule's."""
    problem = make_problem(courses=[make_course(id="a"), make_course(id="b")])
    grid = TimeGrid.of(problem.calendar)
    clash = {"a": [place("a")], "b": [place("b")]}
    assert WholeBackdrop.of(problem, grid, {"a": clash["a"]}).backdrop.exact
    assert not WholeBackdrop.of(problem, grid, clash).backdrop.exact


def blocked_plan() -> tuple[Problem, list[Placement]]:
    """c-1 (two days, cohort q-1) would rather be on days 0-1 (its cohort is softly blacked
    out from day 2) but c-2 (another cohort and trainer) holds the only room it may use there;
    c-3 is of the same unit, at another room, in nobody's way."""
    problem = make_problem(
        calendar=make_calendar(days=6, periods_per_day=1),
        sites=[make_site(), make_site(id="s-2")],
        trainers=[make_trainer(), make_trainer(id="t-2"), make_trainer(id="t-3")],
        cohorts=[make_cohort(), make_cohort(id="q-2"), make_cohort(id="q-3")],
        courses=[
            make_course(pattern="block", sessions=2, trainer="t-1", sites=["s-1"]),
            make_course(
                id="c-2", pattern="block", sessions=2, cohorts=["q-2"], trainer="t-2", sites=["s-1"]
            ),
            make_course(id="c-3", sessions=2, cohorts=["q-3"], trainer="t-3", sites=["s-2"]),
        ],
        blackouts=[
            make_blackout(scope="cohort", target="q-1", window=make_window(2, 5), hard=False)
        ],
    )
    current = [
        *(place("c-1", k, 2 + k) for k in range(2)),
        *(place("c-2", k, k, trainer="t-2") for k in range(2)),
        *(place("c-3", k, 3 + 2 * k, site="s-2", trainer="t-3") for k in range(2)),
    ]
    return problem, current


def test_a_blocked_step_frees_the_courses_holding_where_a_course_would_pay_less() -> None:
    problem, current = blocked_plan()
    s = search(problem)
    assert sorted(s.cheaper_starts("c-1", current)) == [0, 1]  # 0 and 1 blacked-out day
    assert s.blocking("c-1", 0, current) == s.blocking("c-1", 1, current) == {"c-2"}
    assert s.blocked(["c-1"], current, 4) == ["c-1", "c-2"]
    left_out = [pl for pl in current if pl.course != "c-1"]
    assert sorted(s.cheaper_starts("c-1", left_out)) == [0, 1, 2, 3, 4]  # anywhere is better
    r = s.step(current, {"c-1", "c-2"}, 5.0)
    assert r.placements is not None and r.better
    days = {(pl.course, pl.day) for pl in r.placements}
    assert {("c-1", 0), ("c-1", 1)} <= days


def test_a_course_with_a_free_room_where_it_would_go_is_blocked_by_nobody() -> None:
    problem, current = blocked_plan()
    course = problem.course("c-1").model_copy(update={"sites": ["s-1", "s-2"]})
    problem = problem.model_copy(
        update={"courses": [course, *(c for c in problem.courses if c.id != "c-1")]}
    )
    s = search(problem)
    assert s.blocking("c-1", 0, current) == set()  # s-2 is free on days 0-1
    assert s.blocked(["c-1"], current, 4) == ["c-1"]


def test_a_course_that_prefers_the_room_in_the_way_is_blocked_by_who_holds_it() -> None:
    """As above, but c-1 prefers s-1: in the free s-2 each session would pay for that, so the
    way to a cheaper start is through c-2, which holds s-1 there."""
    problem, current = blocked_plan()
    update = {"sites": ["s-1", "s-2"], "preferred_sites": ["s-1"]}
    course = problem.course("c-1").model_copy(update=update)
    problem = problem.model_copy(
        update={"courses": [course, *(c for c in problem.courses if c.id != "c-1")]}
    )
    s = search(problem)
    assert s.blocking("c-1", 0, current) == {"c-2"}  # the empty s-2 before
    assert s.blocked(["c-1"], current, 4) == ["c-1", "c-2"]


def test_a_peak_step_frees_few_courses_holding_a_session_at_every_busiest_slot() -> None:
    """Two sessions run at once on days 0, 2 and 3 (a and b, a and c, b and c), one on the
    other days: any two of a, b, c hold a session at each of those, d at none."""
    on = {"a": [0, 1, 2], "b": [0, 3], "c": [2, 3, 4], "d": [5]}
    problem = make_problem(
        calendar=make_calendar(days=6, periods_per_day=1),
        courses=[make_course(id=c, sessions=len(days), min_days=1) for c, days in on.items()],
    )
    current = [place(c, k, day) for c, days in on.items() for k, day in enumerate(days)]
    for seed in range(5):
        s = search(problem)
        s.rng.seed(seed)
        cover = s.at_peak(current)
        assert len(cover) == 2 and set(cover) <= {"a", "b", "c"}
        assert {0, 2, 3} <= {day for c in cover for day in on[c]}
    assert search(problem).at_peak([]) == []


def test_a_plan_whose_load_peak_costs_nothing_draws_no_peak_steps() -> None:
    from collections import Counter

    from solver.domains import DomainBuilder
    from solver.lns import KINDS

    problem, current = spread_plan()
    builder = DomainBuilder(problem, TimeGrid.of(problem.calendar))
    flat = W.model_copy(update={"load_peak": 0})
    s = Search(problem, builder, flat, RepairPolicy(), SolveParams(workers=1, seed=3), extract)
    assert "peak" not in s.scores  # not drawn at all: before, it was drawn and ran as random
    drawn = Counter(s.pick(current, 1, {"c-1": 1})[0].split(":")[0] for _ in range(400))
    assert drawn["peak"] == 0
    assert all(drawn[kind] > 0 for kind in KINDS if kind != "peak")
    assert "peak" in search(problem).scores  # where the peak costs, it is drawn
