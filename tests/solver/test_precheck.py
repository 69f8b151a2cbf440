"""Pre-checks and the wording they use: each finding once triggered by the smallest plan that
shows it and once not by a plan next to it; fatal findings checked against brute force."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from solver.checker import check
from solver.grid import TimeGrid
from solver.precheck import Finding, precheck, start_days, start_slots, window_mask
from solver.problem import Placement, Problem, Window
from solver.wording import (
    course_text,
    day_text,
    periods_text,
    slot_text,
    span_text,
    window_text,
)
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

D = dt.date
YEAR_2027 = make_calendar(first_date=D(2027, 1, 1), last_date=D(2027, 12, 31))


def findings(problem: Problem) -> list[Finding]:
    return precheck(problem, TimeGrid.of(problem.calendar))


def rules(problem: Problem) -> list[str]:
    return [f.rule for f in findings(problem)]


def only(problem: Problem, rule: str) -> Finding:
    found = [f for f in findings(problem) if f.rule == rule]
    assert len(found) == 1, findings(problem)
    return found[0]


# --- wording ------------------------------------------------------------------------------------


def grid_of(**calendar: object) -> TimeGrid:
    return TimeGrid.of(make_calendar(**calendar))


def test_days_read_as_dates_on_calendars_and_as_numbers_on_abstract_grids() -> None:
    real = grid_of(first_date=D(2027, 3, 1), last_date=D(2027, 3, 31))
    assert day_text(real, 1) == "Tue 2 Mar 2027"
    assert day_text(real, 5) == "Mon 8 Mar 2027"  # the weekend is not a working day
    assert day_text(grid_of(days=10), 3) == "day 3"


def test_slots_name_half_days_and_periods_only_when_days_are_cut() -> None:
    halves = grid_of(first_date=D(2027, 3, 1), last_date=D(2027, 3, 31), periods_per_day=2)
    assert slot_text(halves, 3) == "Tue 2 Mar 2027 afternoon"
    assert slot_text(halves, 0) == "Mon 1 Mar 2027 morning"
    assert slot_text(grid_of(days=5, periods_per_day=4), 6) == "day 1 period 2"
    assert slot_text(grid_of(days=5, periods_per_day=1), 4) == "day 4"


def test_spans_drop_what_both_ends_share() -> None:
    grid = grid_of(first_date=D(2026, 12, 1), last_date=D(2027, 6, 30))
    index = {d: i for i, d in enumerate(grid.dates or ())}
    assert span_text(grid, index[D(2027, 3, 1)], index[D(2027, 4, 30)]) == "1 Mar–30 Apr 2027"
    assert span_text(grid, index[D(2027, 3, 1)], index[D(2027, 3, 15)]) == "1–15 Mar 2027"
    assert span_text(grid, index[D(2026, 12, 1)], index[D(2027, 1, 4)]) == "1 Dec 2026–4 Jan 2027"
    assert span_text(grid, index[D(2027, 3, 1)], index[D(2027, 3, 1)]) == "1 Mar 2027"
    assert span_text(grid_of(days=20), 3, 10) == "days 3–10"
    assert span_text(grid_of(days=20), 3, 3) == "day 3"


def test_windows_say_which_periods_they_cover() -> None:
    halves = grid_of(days=10, periods_per_day=2)
    assert window_text(halves, Window(first=1, last=2, periods=[0])) == "days 1–2 mornings"
    assert window_text(halves, Window(first=1, last=2, periods=[0, 1])) == "days 1–2"
    quarters = grid_of(days=10, periods_per_day=4)
    assert (
        window_text(quarters, Window(first=1, last=1, periods=[2, 0]))
        == "day 1 (period 0, period 2)"
    )


def test_courses_are_named_by_name_and_id() -> None:
    named = make_course(id="c-012", name="Rule of law, Datong county")
    assert course_text(named) == "'Rule of law, Datong county' (c-012)"
    assert course_text(make_course(id="c-7", name="")) == "c-7"


def test_amounts_of_time_use_the_plan_unit() -> None:
    assert periods_text(grid_of(days=5, periods_per_day=1), 3) == "3 days"
    assert periods_text(grid_of(days=5, periods_per_day=2), 1) == "1 half-day"
    assert periods_text(grid_of(days=5, periods_per_day=6), 4) == "4 periods"


def test_window_masks_cover_the_same_slots_as_the_grid() -> None:
    rng = random.Random(7)
    grids = [
        grid_of(days=12, periods_per_day=3),
        grid_of(first_date=D(2027, 2, 1), last_date=D(2027, 3, 31), periods_per_day=2),
    ]
    for grid, _ in itertools.product(grids, range(40)):
        if grid.dates is None:
            a, b = sorted(rng.sample(range(-2, 15), 2))
            first: int | dt.date = a
            last: int | dt.date = b
        else:
            a, b = sorted(rng.sample(range(70), 2))
            first, last = D(2027, 1, 25) + dt.timedelta(a), D(2027, 1, 25) + dt.timedelta(b)
        periods = rng.choice([None, [0], [1, 2], [2]])
        if periods is not None and max(periods) >= grid.periods_per_day:
            periods = [0]  # a period the day does not have is a reference error
        window = Window(first=first, last=last, periods=periods)
        mask = window_mask(grid, window)
        assert {s for s in range(grid.n_slots) if mask >> s & 1} == grid.window_slots(window)


# --- the course's own window --------------------------------------------------------------------


def test_a_window_without_working_days_is_fatal() -> None:
    weekend = make_course(earliest=D(2027, 3, 6), latest=D(2027, 3, 7))
    finding = only(make_problem(calendar=YEAR_2027, courses=[weekend]), "no_working_day")
    assert finding.fatal and finding.course == "c-1"
    assert "6–7 Mar 2027" in finding.message
    with_monday = make_course(earliest=D(2027, 3, 6), latest=D(2027, 3, 8), sessions=1)
    assert rules(make_problem(calendar=YEAR_2027, courses=[with_monday])) == []


def test_a_block_longer_than_its_window_is_fatal() -> None:
    block = make_course(pattern="block", sessions=5, latest=3)
    finding = only(make_problem(courses=[block]), "window_too_short")
    assert finding.fatal and "4 working days" in finding.message
    assert rules(make_problem(courses=[block.model_copy(update={"latest": 4})])) == []


def test_a_spread_course_with_more_sessions_than_its_window_holds_is_fatal() -> None:
    # Sessions of 2 half-days: one a day, and 3 days in the window.
    spread = make_course(sessions=4, length=2, earliest=1, latest=3)
    finding = only(make_problem(courses=[spread]), "window_too_short")
    assert "only 3 of its 4 sessions" in finding.message
    assert rules(make_problem(courses=[spread.model_copy(update={"sessions": 3})])) == []


def test_sessions_longer_than_a_day_are_fatal() -> None:
    too_long = make_course(length=3)
    assert only(make_problem(courses=[too_long]), "length").fatal


def test_a_unit_blacked_out_for_the_whole_window_names_the_blackout_and_its_reason() -> None:
    season = make_blackout(
        id="b-7",
        scope="unit",
        target="u-1",
        window=make_window(0, 4),
        reason="construction season",
    )
    units = [make_unit(name="Datong county")]
    finding = only(make_problem(units=units, blackouts=[season]), "blacked_out")
    assert finding.fatal
    assert "unit 'Datong county' (u-1) is blacked out days 0–4 (construction season)" in (
        finding.message
    )
    shorter = season.model_copy(update={"window": make_window(0, 2)})
    assert rules(make_problem(units=units, blackouts=[shorter])) == []


def test_a_soft_blackout_never_makes_a_course_impossible() -> None:
    soft = make_blackout(scope="unit", target="u-1", window=make_window(0, 4), hard=False)
    assert rules(make_problem(blackouts=[soft])) == []


def test_blackouts_that_break_a_block_leave_too_short_a_run() -> None:
    block = make_course(pattern="block", sessions=3)
    cohort_day = make_blackout(scope="cohort", target="q-1", window=make_window(2), reason="exam")
    finding = only(make_problem(courses=[block], blackouts=[cohort_day]), "blacked_out")
    assert "at most 2 consecutive working days" in finding.message and "(exam)" in finding.message
    late = cohort_day.model_copy(update={"window": make_window(4)})
    assert rules(make_problem(courses=[block], blackouts=[late])) == []


def test_blackouts_of_some_periods_only_count_for_sessions_they_touch() -> None:
    mornings = make_blackout(window=make_window(0, 4, periods=[0]))
    whole_day = make_course(sessions=1, length=2)
    assert only(make_problem(courses=[whole_day], blackouts=[mornings]), "blacked_out").fatal
    half_day = make_course(sessions=5)
    assert rules(make_problem(courses=[half_day], blackouts=[mornings])) == []


# --- trainers -----------------------------------------------------------------------------------


def test_a_course_nobody_can_teach_is_fatal() -> None:
    finding = only(make_problem(courses=[make_course(topic="finance")]), "no_trainer")
    assert finding.fatal and "'finance'" in finding.message
    assert rules(make_problem(courses=[make_course(topic="law")])) == []


def test_an_unavailable_only_trainer_is_said_as_a_planner_would() -> None:
    mission = Window(first=D(2027, 3, 1), last=D(2027, 4, 30), reason="overseas mission")
    course = make_course(
        id="c-012",
        name="Rule of law, Datong county",
        sessions=1,
        trainer="t-17",
        earliest=D(2027, 3, 1),
        latest=D(2027, 4, 15),
    )
    trainers = [make_trainer(id="t-17", unavailable=[mission])]
    finding = only(
        make_problem(calendar=YEAR_2027, trainers=trainers, courses=[course]),
        "trainer_unavailable",
    )
    assert finding.message == (
        "course 'Rule of law, Datong county' (c-012) must be taught 1 Mar–15 Apr 2027, but its"
        " only trainer t-17 is unavailable 1 Mar–30 Apr 2027 (overseas mission)"
    )
    later = course.model_copy(update={"latest": D(2027, 5, 3)})
    assert rules(make_problem(calendar=YEAR_2027, trainers=trainers, courses=[later])) == []


def test_a_block_may_change_trainer_from_day_to_day() -> None:
    block = make_course(pattern="block", sessions=5)
    even = make_trainer(id="t-1", unavailable=[make_window(1), make_window(3)])
    odd = make_trainer(id="t-2", unavailable=[make_window(0), make_window(2), make_window(4)])
    assert rules(make_problem(courses=[block], trainers=[even, odd])) == []
    finding = only(make_problem(courses=[block], trainers=[even]), "trainer_unavailable")
    assert "at most 1 consecutive working days" in finding.message


def test_a_hard_trainer_blackout_makes_the_trainer_unavailable() -> None:
    whole_days = [make_course(length=2)]
    away = make_blackout(scope="trainer", target="t-1", window=make_window(0, 3), reason="audit")
    finding = only(make_problem(courses=whole_days, blackouts=[away]), "trainer_unavailable")
    assert "only 1 of the course's 2 sessions" in finding.message and "(audit)" in finding.message
    shorter = away.model_copy(update={"window": make_window(0, 2)})
    assert rules(make_problem(courses=whole_days, blackouts=[shorter])) == []


def test_a_trainer_finding_names_the_blackouts_that_share_the_blame() -> None:
    trainers = [make_trainer(unavailable=[make_window(3, 4, reason="leave")])]
    exam = make_blackout(scope="cohort", target="q-1", window=make_window(0, 2), reason="exams")
    block = make_course(pattern="block", sessions=2)
    finding = only(
        make_problem(courses=[block], trainers=trainers, blackouts=[exam]), "trainer_unavailable"
    )
    assert "(leave)" in finding.message and "(exams)" in finding.message
    assert rules(make_problem(courses=[block], trainers=trainers)) == []


# --- sites --------------------------------------------------------------------------------------


def test_a_cohort_bigger_than_every_hard_capacity_is_fatal() -> None:
    big = [make_cohort(size=40)]
    finding = only(make_problem(cohorts=big), "capacity")
    assert finding.fatal and "40 trainees" in finding.message and "seats 30" in finding.message
    soft = [make_site(capacity_hard=False)]
    overflow = only(make_problem(cohorts=big, sites=soft), "capacity_overflow")
    assert not overflow.fatal
    assert rules(make_problem(cohorts=big, sites=[make_site(capacity=40)])) == []


def test_only_the_sites_a_course_allows_count_for_capacity() -> None:
    sites = [make_site(id="s-1", capacity=10), make_site(id="s-2", capacity=50)]
    limited = make_course(sites=["s-1"])
    assert only(make_problem(sites=sites, courses=[limited]), "capacity").fatal
    assert rules(make_problem(sites=sites, courses=[make_course()])) == []


def test_a_plan_without_sites_is_fatal() -> None:
    assert only(make_problem(sites=[]), "no_site").fatal


def test_a_block_needs_one_site_open_for_all_its_days() -> None:
    block = make_course(pattern="block", sessions=5)
    sites = [
        make_site(id="s-1", open=[make_window(0, 2)]),
        make_site(id="s-2", closures=[make_window(0, 2, reason="repairs")]),
    ]
    finding = only(make_problem(courses=[block], sites=sites), "site_closed")
    assert "at most 3 consecutive working days" in finding.message
    assert "(repairs)" in finding.message
    spread = make_course(sessions=5)
    assert rules(make_problem(courses=[spread], sites=sites)) == []


def test_a_hard_site_blackout_closes_the_site() -> None:
    shut = make_blackout(scope="site", target="s-1", window=make_window(0, 4), reason="congress")
    assert "(congress)" in only(make_problem(blackouts=[shut]), "site_closed").message
    shorter = shut.model_copy(update={"window": make_window(0, 2)})
    assert rules(make_problem(blackouts=[shorter])) == []


def test_sites_too_small_do_not_count_as_open() -> None:
    sites = [make_site(id="s-1", capacity=10), make_site(id="s-2", closures=[make_window(0, 4)])]
    assert only(make_problem(sites=sites), "site_closed").fatal
    roomy = [sites[0].model_copy(update={"capacity": 20}), sites[1]]
    assert rules(make_problem(sites=roomy)) == []


def test_a_trainer_and_a_site_free_at_different_times_is_fatal() -> None:
    course = make_course(sessions=1)
    trainers = [make_trainer(unavailable=[make_window(2, 4)])]
    sites = [make_site(open=[make_window(2, 4)])]
    finding = only(make_problem(courses=[course], trainers=trainers, sites=sites), "no_common_time")
    assert finding.fatal and "never available together" in finding.message
    overlapping = [make_site(open=[make_window(1, 4)])]
    assert rules(make_problem(courses=[course], trainers=trainers, sites=overlapping)) == []


def test_a_spread_course_that_cannot_reach_its_wanted_days_is_noted() -> None:
    course = make_course(sessions=2, latest=0)  # two half-days, on one day
    finding = only(make_problem(courses=[course]), "min_days")
    assert not finding.fatal
    relaxed = course.model_copy(update={"min_days": 1})
    assert rules(make_problem(courses=[relaxed])) == []


# --- pins ---------------------------------------------------------------------------------------


def test_a_pin_on_a_non_working_day_is_fatal() -> None:
    saturday = make_pin(day=D(2027, 3, 6))
    finding = only(make_problem(calendar=YEAR_2027, pins=[saturday]), "pin")
    assert finding.fatal and "Sat 6 Mar 2027" in finding.message
    monday = make_pin(day=D(2027, 3, 8))
    assert rules(make_problem(calendar=YEAR_2027, pins=[monday])) == []


def test_a_pin_outside_the_window_is_fatal() -> None:
    course = make_course(earliest=2)
    finding = only(make_problem(courses=[course], pins=[make_pin(day=1)]), "pin")
    assert "outside the course's window" in finding.message
    assert rules(make_problem(courses=[course], pins=[make_pin(day=2)])) == []


def test_a_pin_inside_a_hard_blackout_is_fatal() -> None:
    exam = make_blackout(scope="cohort", target="q-1", window=make_window(1), reason="exam")
    finding = only(make_problem(blackouts=[exam], pins=[make_pin(day=1)]), "pin")
    assert "(exam)" in finding.message and "day 1 morning" in finding.message
    assert rules(make_problem(blackouts=[exam], pins=[make_pin(day=2)])) == []


def test_a_pin_at_a_site_or_trainer_the_course_may_not_use_is_fatal() -> None:
    sites = [make_site(id="s-1"), make_site(id="s-2")]
    trainers = [make_trainer(id="t-1"), make_trainer(id="t-2", topics=["finance"])]
    course = make_course(sites=["s-1"])
    plan = make_problem(sites=sites, trainers=trainers, courses=[course])
    bad = [make_pin(site="s-2"), make_pin(day=1, trainer="t-2")]
    found = findings(plan.model_copy(update={"pins": bad}))
    assert [f.rule for f in found] == ["pin", "pin"]
    assert "site s-2" in found[0].message and "trainer t-2" in found[1].message
    good = [make_pin(site="s-1"), make_pin(day=1, trainer="t-1")]
    assert findings(plan.model_copy(update={"pins": good})) == []


def test_a_pin_when_its_trainer_is_unavailable_is_fatal() -> None:
    trainers = [make_trainer(unavailable=[make_window(1, reason="leave")])]
    finding = only(make_problem(trainers=trainers, pins=[make_pin(day=1, trainer="t-1")]), "pin")
    assert "(leave)" in finding.message
    assert rules(make_problem(trainers=trainers, pins=[make_pin(day=1)])) == []


def test_pins_of_a_block_must_fit_in_one_block() -> None:
    block = make_course(pattern="block", sessions=2)
    apart = [make_pin(day=0), make_pin(day=2)]
    finding = only(make_problem(courses=[block], pins=apart), "pin")
    assert "day 0 morning and day 2 morning" in finding.message
    mixed = [make_pin(day=0), make_pin(day=1, period=1)]
    assert only(make_problem(courses=[block], pins=mixed), "pin").fatal
    together = [make_pin(day=1), make_pin(day=2)]
    assert rules(make_problem(courses=[block], pins=together)) == []


def test_a_block_pin_needs_room_for_the_whole_block_around_it() -> None:
    block = make_course(pattern="block", sessions=2)
    exams = [
        make_blackout(scope="cohort", target="q-1", window=make_window(0)),
        make_blackout(scope="cohort", target="q-1", window=make_window(2)),
    ]
    isolated = make_problem(courses=[block], blackouts=exams, pins=[make_pin(day=1)])
    assert "no room around it for a block of 2" in only(isolated, "pin").message
    assert rules(make_problem(courses=[block], blackouts=exams, pins=[make_pin(day=3)])) == []


# --- demand over supply -------------------------------------------------------------------------


def test_a_cohort_with_more_required_sessions_than_periods_is_fatal() -> None:
    # Each course fits on its own in days 0-1 (4 half-days), but not both together.
    a = make_course(id="c-1", sessions=3, min_days=1, latest=1)
    b = make_course(id="c-2", sessions=2, min_days=1, latest=1)
    finding = only(make_problem(courses=[a, b]), "cohort_overload")
    assert finding.fatal and finding.course is None
    assert "5 half-days" in finding.message and "only 4 half-days" in finding.message
    optional = b.model_copy(update={"required": False})
    assert rules(make_problem(courses=[a, optional])) == []


def test_a_tight_deadline_inside_a_long_window_is_found() -> None:
    # All three fit in the union of their windows, not the two due on day 0.
    a = make_course(id="c-1", sessions=2, min_days=1, latest=0)
    b = make_course(id="c-2", sessions=1, latest=0)
    c = make_course(id="c-3", sessions=1)
    assert "cohort_overload" in rules(make_problem(courses=[a, b, c]))
    later = b.model_copy(update={"latest": 1})
    assert rules(make_problem(courses=[a, later, c])) == []


def test_a_fixed_trainer_with_more_sessions_than_free_time_is_fatal() -> None:
    cohorts = [make_cohort(id="q-1"), make_cohort(id="q-2")]
    trainers = [make_trainer(unavailable=[make_window(2, 4)])]
    a = make_course(id="c-1", sessions=3, min_days=1, trainer="t-1", cohorts=["q-1"])
    b = make_course(id="c-2", sessions=3, min_days=1, trainer="t-1", cohorts=["q-2"])
    plan = make_problem(cohorts=cohorts, trainers=trainers, courses=[a, b])
    finding = only(plan, "trainer_overload")
    assert finding.fatal and "only 4 half-days" in finding.message
    fewer = b.model_copy(update={"sessions": 1})
    assert rules(plan.model_copy(update={"courses": [a, fewer]})) == []


# --- start domains ------------------------------------------------------------------------------


def test_start_days_follow_window_blackouts_and_block_runs() -> None:
    block = make_course(pattern="block", sessions=2, latest=3)
    plan = make_problem(courses=[block], blackouts=[make_blackout(window=make_window(2))])
    grid = TimeGrid.of(plan.calendar)
    assert start_days(plan, grid, block) == [0]
    spread = make_course(earliest=1)
    assert start_days(plan, grid, spread) == [1, 3, 4]


def test_start_slots_leave_out_periods_a_session_cannot_fit() -> None:
    afternoons_off = make_blackout(window=make_window(0, 4, periods=[1]))
    long = make_course(sessions=1, length=2)
    short = make_course(sessions=1)
    plan = make_problem(blackouts=[afternoons_off])
    grid = TimeGrid.of(plan.calendar)
    assert start_slots(plan, grid, short) == [0, 2, 4, 6, 8]
    assert start_slots(make_problem(), grid, long) == [0, 2, 4, 6, 8]
    assert start_slots(plan, grid, long) == []


# --- fatal findings are never wrong -------------------------------------------------------------


def random_plan(rng: random.Random, most_sessions: int) -> Problem:
    """One course on a 4-day x 2-period grid, with random limits on it, its trainers and sites."""

    def window() -> Window:
        a, b = sorted(rng.choices(range(4), k=2))
        return Window(first=a, last=b, periods=rng.choice([None, [0], [1]]))

    course = make_course(
        sessions=rng.randint(1, most_sessions),
        length=rng.randint(1, 2),
        pattern=rng.choice(["block", "spread"]),
        earliest=rng.choice([None, 0, 1]),
        latest=rng.choice([None, 2, 3]),
        cohorts=["q-1"],
        attendance=rng.choice([None, 25]),
    )
    trainers = [
        make_trainer(id=f"t-{i}", unavailable=[window() for _ in range(rng.randint(0, 2))])
        for i in range(2)
    ]
    sites = [
        make_site(
            id=f"s-{i}",
            capacity=rng.choice([20, 30]),
            closures=[window() for _ in range(rng.randint(0, 2))],
        )
        for i in range(2)
    ]
    targets = {"plan": None, "unit": "u-1", "cohort": "q-1", "course": "c-1", "site": "s-0"}
    scopes = [rng.choice(list(targets)) for _ in range(rng.randint(0, 2))]
    blackouts = [make_blackout(scope=k, target=targets[k], window=window()) for k in scopes]
    return make_problem(
        calendar=make_calendar(days=4),
        courses=[course],
        trainers=trainers,
        sites=sites,
        blackouts=blackouts,
    )


def feasible_by_brute_force(plan: Problem) -> bool:
    """Whether some placement of the plan's one course passes the checker."""
    course = plan.courses[0]
    ppd, weights = plan.calendar.periods_per_day, default_weights()
    starts = [(d, p) for d in range(4) for p in range(ppd - course.length + 1)]
    options = list(itertools.product(starts, ["s-0", "s-1"], ["t-0", "t-1"]))
    for combo in itertools.combinations(options, course.sessions):
        if len({start for start, _, _ in combo}) < len(combo):
            continue  # two sessions of one course at one time: the checker's cohort_clash
        placements = [
            Placement(course="c-1", session=i, day=d, period=p, site=s, trainer=t)
            for i, ((d, p), s, t) in enumerate(combo)
        ]
        if check(plan, placements, weights).feasible:
            return True
    return False


def assert_fatal_means_infeasible(seed: int, plans: int, most_sessions: int) -> None:
    rng = random.Random(seed)
    fatal_seen = 0
    for _ in range(plans):
        plan = random_plan(rng, most_sessions)
        fatal = [f for f in findings(plan) if f.fatal]
        if fatal:
            fatal_seen += 1
            assert not feasible_by_brute_force(plan), fatal
    assert fatal_seen >= plans // 10  # the generator does reach the checks


def test_a_fatal_finding_means_no_placement_passes_the_checker() -> None:
    assert_fatal_means_infeasible(seed=2027, plans=150, most_sessions=2)


@pytest.mark.slow
def test_a_fatal_finding_means_no_placement_passes_the_checker_for_longer_courses() -> None:
    assert_fatal_means_infeasible(seed=1949, plans=150, most_sessions=3)


@pytest.mark.slow
def test_a_city_year_is_checked_quickly() -> None:
    import time

    rng = random.Random(1)
    units = [make_unit(id=f"u-{i}") for i in range(40)]
    cohorts = [make_cohort(id=f"q-{i}", unit=f"u-{i % 40}", size=30) for i in range(300)]
    topics = [f"topic-{i}" for i in range(30)]
    trainers = [
        make_trainer(
            id=f"t-{i}",
            topics=rng.sample(topics, 3),
            unavailable=[Window(first=D(2027, m, 1), last=D(2027, m, 20)) for m in (3, 8)],
        )
        for i in range(80)
    ]
    sites = [make_site(id=f"s-{i}", capacity=rng.choice([40, 60, 120])) for i in range(14)]
    courses = [
        make_course(
            id=f"c-{i}",
            sessions=rng.randint(2, 10),
            pattern=rng.choice(["block", "spread"]),
            topic=rng.choice(topics),
            cohorts=[f"q-{rng.randrange(300)}"],
            earliest=D(2027, rng.randint(1, 6), 1),
            latest=D(2027, rng.randint(7, 12), 28),
        )
        for i in range(2500)
    ]
    blackouts = [
        make_blackout(
            scope="unit", target=f"u-{i}", window=Window(first=D(2027, 4, 1), last=D(2027, 6, 30))
        )
        for i in range(0, 40, 3)
    ]
    plan = make_problem(
        calendar=YEAR_2027,
        units=units,
        cohorts=cohorts,
        trainers=trainers,
        sites=sites,
        courses=courses,
        blackouts=blackouts,
    )
    t0 = time.monotonic()
    findings(plan)
    assert time.monotonic() - t0 < 10
