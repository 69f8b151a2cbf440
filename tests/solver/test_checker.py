"""The checker against hand-made schedules: each hard rule once broken and once kept, each soft
term once paid (at a cost worked out by hand) and once not."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence

import pytest

from solver.checker import check, perturbation_multiplier, unscheduled_courses
from solver.problem import SOFT_TERMS, Placement, Problem, Weights, Window
from solver.solution import CheckResult, RepairPolicy
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
    place,
)

W = default_weights()
TWO_DAYS = [place(session=0, day=0), place(session=1, day=1)]  # the default plan, feasible


def run(
    problem: Problem,
    placements: Sequence[Placement],
    policy: RepairPolicy | None = None,
    weights: Weights = W,
) -> CheckResult:
    return check(problem, placements, weights, policy or RepairPolicy())


def rules(result: CheckResult) -> set[str]:
    return {v.rule for v in result.violations}


def messages(result: CheckResult, rule: str) -> list[str]:
    return [v.message for v in result.violations if v.rule == rule]


def cn_2027_february(**overrides: object) -> Problem:
    """February 2027 in China: the Spring Festival holiday runs 2027-02-05 .. 02-10."""
    calendar = make_calendar(
        first_date=dt.date(2027, 2, 1),
        last_date=dt.date(2027, 2, 28),
        holiday_country="CN",
        periods_per_day=1,
    )
    return make_problem(calendar=calendar, **overrides)


def test_the_default_plan_is_feasible_and_scores_every_term() -> None:
    result = run(make_problem(), TWO_DAYS)

    assert result.feasible, result.violations
    assert set(result.breakdown) == set(SOFT_TERMS)
    assert result.objective == sum(result.breakdown.values()) == sum(c.cost for c in result.costs)
    # two isolated sessions (1 each) and one session at the busiest slot (10)
    assert result.breakdown["compactness"] == 2
    assert result.breakdown["load_peak"] == 10
    assert result.objective == 12


# --- Hard: sessions ---------------------------------------------------------------------------


def test_sessions_a_partly_placed_course_is_reported() -> None:
    result = run(make_problem(), [place(session=0, day=0)])
    assert rules(result) == {"sessions"}
    assert "session 1 not placed" in messages(result, "sessions")[0]


def test_sessions_a_required_course_left_out_is_reported() -> None:
    result = run(make_problem(), [])
    assert messages(result, "sessions") == ['"Rule of law" is required but not scheduled']
    assert result.breakdown["unscheduled"] == 0


def test_sessions_an_optional_course_may_be_left_out() -> None:
    problem = make_problem(courses=[make_course(required=False)])
    assert "sessions" not in rules(run(problem, []))


@pytest.mark.parametrize(
    "placements",
    [
        [place(session=0, day=0), place(session=0, day=1)],  # session 0 twice, 1 missing
        [place(session=0, day=0), place(session=1, day=1), place(session=2, day=2)],  # no 2
    ],
)
def test_sessions_each_index_exactly_once(placements: list[Placement]) -> None:
    assert "sessions" in rules(run(make_problem(), placements))


def test_sessions_garbage_is_reported_never_raised() -> None:
    garbage = [
        place(course="nope", day=0),
        place(session=0, day=dt.date(2027, 3, 1)),  # a date on an abstract grid
        place(session=1, day=99, period=7, site="s-404", trainer="t-404"),
    ]
    result = run(make_problem(), garbage)

    found = messages(result, "sessions")
    assert any('unknown course "nope"' in m for m in found)
    assert any('unknown site "s-404"' in m for m in found)
    assert any('unknown trainer "t-404"' in m for m in found)
    assert len(messages(result, "working_time")) == 2


# --- Hard: working_time -----------------------------------------------------------------------


def test_working_time_day_outside_the_grid() -> None:
    result = run(make_problem(), [place(session=0, day=0), place(session=1, day=5)])
    assert messages(result, "working_time") == [
        '"Rule of law" is placed on day 5, not a working day of the plan'
    ]


def test_working_time_session_must_end_within_its_day() -> None:
    problem = make_problem(courses=[make_course(sessions=1, length=2)])
    assert "working_time" in rules(run(problem, [place(period=1)]))
    assert run(problem, [place(period=0)]).feasible


def test_working_time_real_calendar_spring_festival_is_not_working() -> None:
    problem = cn_2027_february()
    on_holiday = [
        place(session=0, day=dt.date(2027, 2, 4)),
        place(session=1, day=dt.date(2027, 2, 8)),
    ]
    after = [place(session=0, day=dt.date(2027, 2, 4)), place(session=1, day=dt.date(2027, 2, 11))]

    assert messages(run(problem, on_holiday), "working_time") == [
        '"Rule of law" is placed on 2027-02-08, not a working day of the plan'
    ]
    assert run(problem, after).feasible


def test_working_time_weekend_is_not_working() -> None:
    saturday = dt.date(2027, 2, 20)
    problem = cn_2027_february(courses=[make_course(sessions=1)])
    assert "working_time" in rules(run(problem, [place(day=saturday)]))


# --- Hard: site_allowed, trainer_qualified ----------------------------------------------------


def test_site_allowed() -> None:
    problem = make_problem(
        sites=[make_site(), make_site(id="s-2")], courses=[make_course(sessions=1, sites=["s-2"])]
    )
    assert rules(run(problem, [place(site="s-1")])) == {"site_allowed"}
    assert run(problem, [place(site="s-2")]).feasible


def test_trainer_qualified_by_topic() -> None:
    problem = make_problem(
        trainers=[make_trainer(), make_trainer(id="t-2", topics=["economy"])],
        courses=[make_course(sessions=1)],
    )
    result = run(problem, [place(trainer="t-2")])
    assert messages(result, "trainer_qualified") == [
        'trainer t-2 teaches "Rule of law" on day 0 period 0 but is not qualified '
        '(they do not teach "law")'
    ]
    assert run(problem, [place(trainer="t-1")]).feasible


def test_trainer_qualified_fixed_trainer() -> None:
    problem = make_problem(
        trainers=[make_trainer(), make_trainer(id="t-2")],
        courses=[make_course(sessions=1, trainer="t-2")],
    )
    assert rules(run(problem, [place(trainer="t-1")])) == {"trainer_qualified"}
    assert run(problem, [place(trainer="t-2")]).feasible


# --- Hard: clashes ----------------------------------------------------------------------------


def two_courses(first: dict[str, object] | None = None, **second: object) -> Problem:
    """Courses a (cohort q-1) and b (cohort q-2 unless overridden), two sites, two trainers."""
    return make_problem(
        sites=[make_site(), make_site(id="s-2")],
        trainers=[make_trainer(), make_trainer(id="t-2")],
        cohorts=[make_cohort(), make_cohort(id="q-2")],
        courses=[
            make_course(**{"id": "a", "name": "A", "sessions": 1, **(first or {})}),
            make_course(**{"id": "b", "name": "B", "sessions": 1, "cohorts": ["q-2"], **second}),
        ],
    )


def test_site_clash() -> None:
    problem = two_courses()
    clash = [place("a", site="s-1", trainer="t-1"), place("b", site="s-1", trainer="t-2")]
    apart = [place("a", site="s-1", trainer="t-1"), place("b", site="s-2", trainer="t-2")]

    assert messages(run(problem, clash), "site_clash") == [
        'site s-1 holds "A" (session 0) and "B" (session 0) at the same time on day 0 period 0'
    ]
    assert run(problem, apart).feasible


def test_site_clash_of_longer_sessions_is_reported_once() -> None:
    both_long = two_courses({"length": 2}, length=2)
    both_slots = [place("a", trainer="t-1"), place("b", trainer="t-2")]
    assert len(messages(run(both_long, both_slots), "site_clash")) == 1

    b_long = two_courses(length=2)
    second_slot = [place("a", period=1, trainer="t-1"), place("b", period=0, trainer="t-2")]
    assert messages(run(b_long, second_slot), "site_clash") == [
        'site s-1 holds "A" (session 0) and "B" (session 0) at the same time on day 0 period 1'
    ]


def test_trainer_clash() -> None:
    problem = two_courses()
    clash = [place("a", site="s-1"), place("b", site="s-2")]
    later = [place("a", site="s-1"), place("b", site="s-2", period=1)]

    assert rules(run(problem, clash)) == {"trainer_clash"}
    assert run(problem, later).feasible


def test_cohort_clash_shared_cohort() -> None:
    shared = two_courses(cohorts=["q-1", "q-2"])
    separate = two_courses()
    at_once = [place("a", site="s-1", trainer="t-1"), place("b", site="s-2", trainer="t-2")]

    assert messages(run(shared, at_once), "cohort_clash") == [
        'cohort q-1 attends "A" (session 0) and "B" (session 0) at the same time on day 0 period 0'
    ]
    assert run(separate, at_once).feasible


def test_cohort_clash_course_meets_twice_at_once_even_without_cohorts() -> None:
    problem = make_problem(
        sites=[make_site(), make_site(id="s-2")],
        trainers=[make_trainer(), make_trainer(id="t-2")],
        courses=[make_course(cohorts=[], attendance=10)],
    )
    at_once = [place(session=0, site="s-1"), place(session=1, site="s-2", trainer="t-2")]
    result = run(problem, at_once)
    assert rules(result) == {"cohort_clash"}
    assert len(result.violations) == 1
    assert run(problem, [at_once[0], place(session=1, period=1, site="s-2")]).feasible


# --- Hard: trainer_unavailable, site_closed ---------------------------------------------------


def test_trainer_unavailable_message_names_the_date_and_reason() -> None:
    calendar = make_calendar(
        first_date=dt.date(2027, 3, 1), last_date=dt.date(2027, 3, 31), periods_per_day=1
    )
    leave = make_window(dt.date(2027, 3, 2), dt.date(2027, 3, 5), reason="annual leave")
    problem = make_problem(
        calendar=calendar,
        trainers=[make_trainer(id="t-17", unavailable=[leave])],
        courses=[make_course(sessions=1)],
    )
    result = run(problem, [place(day=dt.date(2027, 3, 2), trainer="t-17")])

    assert messages(result, "trainer_unavailable") == [
        'trainer t-17 teaches "Rule of law" on 2027-03-02 but is unavailable (annual leave)'
    ]
    assert run(problem, [place(day=dt.date(2027, 3, 8), trainer="t-17")]).feasible


def test_trainer_unavailable_only_in_the_window_periods() -> None:
    afternoons = make_window(0, 4, periods=[1])
    problem = make_problem(trainers=[make_trainer(unavailable=[afternoons])])
    assert "trainer_unavailable" in rules(
        run(problem, [place(session=0), place(session=1, day=1, period=1)])
    )
    assert run(problem, TWO_DAYS).feasible


def test_site_closed_by_a_closure() -> None:
    problem = make_problem(sites=[make_site(closures=[make_window(1, reason="renovation")])])
    result = run(problem, TWO_DAYS)
    assert messages(result, "site_closed") == [
        '"Rule of law" is held at site s-1 on day 1 period 0 but the site is closed (renovation)'
    ]
    assert run(problem, [place(session=0, day=0), place(session=1, day=2)]).feasible


def test_site_closed_outside_its_open_windows() -> None:
    mornings_from_day_2 = make_window(2, 4, periods=[0])
    problem = make_problem(
        sites=[make_site(open=[mornings_from_day_2])], courses=[make_course(sessions=1, length=2)]
    )
    assert "site_closed" in rules(run(problem, [place(day=1)]))
    assert "site_closed" in rules(run(problem, [place(day=2)]))  # its afternoon is closed
    short = make_problem(sites=[make_site(open=[mornings_from_day_2])])
    assert run(short, [place(session=0, day=2), place(session=1, day=3)]).feasible


# --- Hard: hard_blackout ----------------------------------------------------------------------

BLACKOUT_SCOPES = [
    ("plan", None, None),
    ("unit", "u-1", "u-2"),
    ("cohort", "q-1", "q-2"),
    ("site", "s-1", "s-2"),
    ("trainer", "t-1", "t-2"),
    ("course", "c-1", "c-2"),
]


def blackout_plan(scope: str, target: str | None, hard: bool = True) -> Problem:
    return make_problem(
        sites=[make_site(), make_site(id="s-2")],
        trainers=[make_trainer(), make_trainer(id="t-2")],
        units=[make_unit(), make_unit(id="u-2")],
        cohorts=[make_cohort(), make_cohort(id="q-2", unit="u-2")],
        courses=[make_course(), make_course(id="c-2", cohorts=["q-2"])],
        blackouts=[
            make_blackout(scope=scope, target=target, window=make_window(1), hard=hard, reason="x")
        ],
    )


C2 = [place("c-2", 0, 2, 0, "s-2", "t-2"), place("c-2", 1, 3, 0, "s-2", "t-2")]


@pytest.mark.parametrize(("scope", "target", "other"), BLACKOUT_SCOPES)
def test_hard_blackout_applies_by_scope(scope: str, target: str | None, other: str | None) -> None:
    result = run(blackout_plan(scope, target), TWO_DAYS + C2)

    assert rules(result) == {"hard_blackout"}
    assert len(result.violations) == 1  # only c-1's session 1 on day 1
    assert "inside a blackout of" in result.violations[0].message


@pytest.mark.parametrize(("scope", "target", "other"), BLACKOUT_SCOPES[1:])
def test_hard_blackout_of_another_target_does_not_apply(
    scope: str, target: str | None, other: str | None
) -> None:
    assert run(blackout_plan(scope, other), TWO_DAYS + C2).feasible


def test_hard_blackout_outside_its_window_or_soft_is_no_violation() -> None:
    early = [place(session=0, day=0), place(session=1, day=2)]
    assert run(blackout_plan("plan", None), early + C2).feasible
    assert run(blackout_plan("plan", None, hard=False), TWO_DAYS + C2).feasible


# --- Hard: capacity, course_window ------------------------------------------------------------


def test_capacity_when_hard() -> None:
    problem = make_problem(sites=[make_site(capacity=10)])
    assert messages(run(problem, TWO_DAYS), "capacity")[0].startswith(
        '"Rule of law" has 20 trainees but site s-1 seats 10'
    )
    assert run(make_problem(sites=[make_site(capacity=20)]), TWO_DAYS).feasible


def test_capacity_uses_explicit_attendance_and_ignores_soft_capacity() -> None:
    small = make_problem(sites=[make_site(capacity=10)], courses=[make_course(attendance=10)])
    soft = make_problem(sites=[make_site(capacity=10, capacity_hard=False)])
    assert run(small, TWO_DAYS).feasible
    assert run(soft, TWO_DAYS).feasible


def test_course_window_earliest_and_latest() -> None:
    problem = make_problem(courses=[make_course(earliest=1, latest=3)])
    early = run(problem, [place(session=0, day=0), place(session=1, day=2)])
    late = run(problem, [place(session=0, day=1), place(session=1, day=4)])

    assert messages(early, "course_window") == [
        '"Rule of law" is held on day 0 period 0 but may not start before day 1'
    ]
    assert rules(late) == {"course_window"}
    assert run(problem, [place(session=0, day=1), place(session=1, day=3)]).feasible


def test_course_window_dates_that_are_not_working_days() -> None:
    # Earliest on the Spring Festival: the first allowed working day is 2027-02-11.
    problem = cn_2027_february(courses=[make_course(sessions=1, earliest=dt.date(2027, 2, 7))])
    assert "course_window" in rules(run(problem, [place(day=dt.date(2027, 2, 4))]))
    assert run(problem, [place(day=dt.date(2027, 2, 11))]).feasible


# --- Hard: block ------------------------------------------------------------------------------


def block_plan(**overrides: object) -> Problem:
    course = make_course(sessions=3, pattern="block")
    return make_problem(sites=[make_site(), make_site(id="s-2")], courses=[course], **overrides)


def test_block_on_consecutive_working_days_at_one_site_and_period() -> None:
    assert run(block_plan(), [place(session=k, day=1 + k) for k in range(3)]).feasible


@pytest.mark.parametrize(
    "placements",
    [
        [place(session=0, day=0), place(session=1, day=1), place(session=2, day=3)],  # gap
        [place(session=0, day=1), place(session=1, day=0), place(session=2, day=2)],  # order
        [place(session=0, day=0), place(session=1, day=1), place(session=2, day=2, site="s-2")],
        [place(session=0, day=0), place(session=1, day=1), place(session=2, day=2, period=1)],
    ],
)
def test_block_broken(placements: list[Placement]) -> None:
    assert rules(run(block_plan(), placements)) == {"block"}


def test_block_spans_the_spring_festival_on_working_days() -> None:
    problem = cn_2027_february(courses=[make_course(pattern="block")])
    across = [place(session=0, day=dt.date(2027, 2, 4)), place(session=1, day=dt.date(2027, 2, 11))]
    gap = [place(session=0, day=dt.date(2027, 2, 3)), place(session=1, day=dt.date(2027, 2, 11))]

    assert run(problem, across).feasible
    assert messages(run(problem, gap), "block") == [
        'block course "Rule of law" session 1 is held on 2027-02-11, not on consecutive '
        "working days (expected on 2027-02-04)"
    ]


# --- Hard: pinned -----------------------------------------------------------------------------


def test_pinned_session_stays_at_its_time_site_and_trainer() -> None:
    pinned = make_problem(pins=[make_pin(day=1, period=1, site="s-1")])
    at_pin = [place(session=0, day=0), place(session=1, day=1, period=1)]

    assert run(pinned, at_pin).feasible
    assert rules(run(pinned, TWO_DAYS)) == {"pinned"}


def test_pinned_site_and_trainer_must_match_when_given() -> None:
    problem = make_problem(
        sites=[make_site(), make_site(id="s-2")],
        trainers=[make_trainer(), make_trainer(id="t-2")],
        pins=[make_pin(day=1, site="s-2", trainer="t-2")],
    )
    assert "pinned" in rules(run(problem, TWO_DAYS))
    ok = [place(session=0, day=0, site="s-2"), place(session=1, day=1, site="s-2", trainer="t-2")]
    assert run(problem, ok).feasible


def test_pinned_twice_needs_two_sessions() -> None:
    problem = make_problem(pins=[make_pin(day=0), make_pin(day=1)])
    assert run(problem, TWO_DAYS).feasible
    assert "pinned" in rules(run(problem, [place(session=0, day=0), place(session=1, day=2)]))


def test_pinned_each_pin_takes_its_own_session() -> None:
    # Two pins at one time break reference_errors; the checker still needs two sessions there.
    problem = make_problem(pins=[make_pin(day=0), make_pin(day=0)])
    assert messages(run(problem, TWO_DAYS), "pinned") == [
        '"Rule of law" is pinned on day 0 period 0 but no session of it is held there'
    ]


def test_pinned_optional_course_must_be_placed() -> None:
    problem = make_problem(courses=[make_course(required=False)], pins=[make_pin(day=0)])
    assert rules(run(problem, [])) == {"pinned"}


# --- Hard: frozen -----------------------------------------------------------------------------


def repair_plan(previous: list[Placement], **overrides: object) -> Problem:
    fields: dict[str, object] = {
        "calendar": make_calendar(days=10),
        "trainers": [make_trainer(), make_trainer(id="t-2")],
        "previous": previous,
        **overrides,
    }
    return make_problem(**fields)


FREEZE_2 = RepairPolicy(now=0, freeze_days=2)  # days 0 and 1 are frozen


def test_frozen_session_may_not_move() -> None:
    problem = repair_plan(TWO_DAYS)
    moved = [place(session=0, day=0), place(session=1, day=2)]

    assert messages(run(problem, moved, FREEZE_2), "frozen") == [
        '"Rule of law" on day 1 period 0 at site s-1 is frozen (before day 2) but was moved'
    ]
    assert run(problem, TWO_DAYS, FREEZE_2).feasible


def test_frozen_applies_only_before_the_horizon_and_with_a_now() -> None:
    previous = [place(session=0, day=0), place(session=1, day=2)]
    problem = repair_plan(previous)
    moved_day_2 = [place(session=0, day=0), place(session=1, day=3)]

    assert run(problem, moved_day_2, FREEZE_2).feasible
    assert run(problem, [place(session=0, day=5), place(session=1, day=6)]).feasible  # no now


def test_frozen_trainer_may_change_only_when_unavailable() -> None:
    swapped = [place(session=0, day=0), place(session=1, day=1, trainer="t-2")]
    assert "frozen" in rules(run(repair_plan(TWO_DAYS), swapped, FREEZE_2))

    on_leave = make_trainer(unavailable=[make_window(1, reason="sick")])
    problem = repair_plan(TWO_DAYS, trainers=[on_leave, make_trainer(id="t-2")])
    assert run(problem, swapped, FREEZE_2).feasible

    blacked_out = make_blackout(scope="trainer", target="t-1", window=make_window(1))
    problem = repair_plan(TWO_DAYS, blackouts=[blacked_out])
    assert run(problem, swapped, FREEZE_2).feasible


def test_frozen_horizon_counts_calendar_days_on_real_calendars() -> None:
    # now = Friday 2027-02-26 + 3 calendar days = Monday 03-01: Friday is frozen, Monday not.
    calendar = make_calendar(
        first_date=dt.date(2027, 2, 22), last_date=dt.date(2027, 3, 12), periods_per_day=1
    )
    previous = [
        place(session=0, day=dt.date(2027, 2, 26)),
        place(session=1, day=dt.date(2027, 3, 1)),
    ]
    problem = make_problem(calendar=calendar, previous=previous)
    policy = RepairPolicy(now=dt.date(2027, 2, 26), freeze_days=3)

    keep_friday = [previous[0], place(session=1, day=dt.date(2027, 3, 2))]
    move_friday = [place(session=0, day=dt.date(2027, 3, 3)), previous[1]]
    assert run(problem, keep_friday, policy).feasible
    assert rules(run(problem, move_friday, policy)) == {"frozen"}


# --- Soft -------------------------------------------------------------------------------------


def test_soft_blackout_costs_its_weight_or_the_plan_weight() -> None:
    default = make_blackout(window=make_window(0, 1), hard=False)
    own = make_blackout(scope="cohort", target="q-1", window=make_window(1), hard=False, weight=7)
    result = run(make_problem(blackouts=[default, own]), TWO_DAYS)

    assert result.feasible
    assert result.breakdown["soft_blackout"] == 2 * W.soft_blackout + 7  # 107
    assert sorted(c.cost for c in result.costs if c.term == "soft_blackout") == [7, 50, 50]


def test_soft_blackout_not_paid_outside() -> None:
    later = make_blackout(window=make_window(2, 4), hard=False)
    assert run(make_problem(blackouts=[later]), TWO_DAYS).breakdown["soft_blackout"] == 0


def test_capacity_overflow_per_seat_over_per_session() -> None:
    problem = make_problem(sites=[make_site(capacity=15, capacity_hard=False)])
    result = run(problem, TWO_DAYS)
    assert result.breakdown["capacity_overflow"] == 2 * (20 - 15) * W.capacity_overflow  # 20
    assert {c.session for c in result.costs if c.term == "capacity_overflow"} == {0, 1}

    roomy = make_problem(sites=[make_site(capacity=20, capacity_hard=False)])
    assert run(roomy, TWO_DAYS).breakdown["capacity_overflow"] == 0


def test_min_days_per_missing_distinct_day() -> None:
    problem = make_problem(courses=[make_course(sessions=3)])
    two_days = [place(session=0, day=0), place(session=1, day=0, period=1), place(session=2, day=1)]
    three_days = [place(session=k, day=k) for k in range(3)]

    assert run(problem, two_days).breakdown["min_days"] == (3 - 2) * W.min_days  # 10
    assert run(problem, three_days).breakdown["min_days"] == 0
    relaxed = make_problem(courses=[make_course(sessions=3, min_days=2)])
    assert run(relaxed, two_days).breakdown["min_days"] == 0
    block = make_problem(courses=[make_course(sessions=2, pattern="block")])
    assert run(block, TWO_DAYS).breakdown["min_days"] == 0


def test_compactness_isolated_sessions_per_cohort() -> None:
    # Three periods a day; a (q-1, q-2) at periods 0 and 2, b (q-1) in between on day 0.
    problem = make_problem(
        calendar=make_calendar(periods_per_day=3),
        sites=[make_site(), make_site(id="s-2")],
        cohorts=[make_cohort(), make_cohort(id="q-2")],
        courses=[
            make_course(id="a", cohorts=["q-1", "q-2"], min_days=1),
            make_course(id="b", sessions=1),
        ],
    )
    a_only = [place("a", 0, 0, 0), place("a", 1, 0, 2)]
    with_b = [*a_only, place("b", 0, 0, 1, site="s-2")]

    # without b: both sessions of a are isolated for both cohorts
    assert run(problem, a_only).breakdown["compactness"] == 4 * W.compactness
    # b joins q-1's day: q-1 has no isolated session, q-2 still has two
    result = run(problem, with_b)
    assert result.breakdown["compactness"] == 2 * W.compactness
    assert all("cohort q-2" in c.message for c in result.costs if c.term == "compactness")


def test_compactness_adjacent_sessions_of_one_course_or_whole_days_do_not_pay() -> None:
    same_day = [place(session=0, day=0, period=0), place(session=1, day=0, period=1)]
    assert run(make_problem(), same_day).breakdown["compactness"] == 0
    whole_days = make_problem(courses=[make_course(length=2)])
    assert run(whole_days, TWO_DAYS).breakdown["compactness"] == 0


def test_stability_per_extra_site() -> None:
    sites = [make_site(id=f"s-{i}") for i in (1, 2, 3)]
    problem = make_problem(sites=sites, courses=[make_course(sessions=3)])
    three = [place(session=k, day=k, site=f"s-{k + 1}") for k in range(3)]
    two = [place(session=k, day=k, site="s-2" if k else "s-1") for k in range(3)]

    assert run(problem, three).breakdown["stability"] == 2 * W.stability
    assert run(problem, two).breakdown["stability"] == 1 * W.stability
    one = [place(session=k, day=k) for k in range(3)]
    assert run(problem, one).breakdown["stability"] == 0


def density_plan(away_cap: float, headcount: int = 100) -> Problem:
    return make_problem(
        sites=[make_site(), make_site(id="s-2")],
        trainers=[make_trainer(), make_trainer(id="t-2")],
        units=[make_unit(headcount=headcount, away_cap=away_cap)],
        cohorts=[make_cohort(size=20), make_cohort(id="q-2", size=15)],
        courses=[make_course(id="a", sessions=1), make_course(id="b", sessions=1, cohorts=["q-2"])],
    )


def test_density_over_the_units_away_cap_at_its_peak() -> None:
    together = [place("a"), place("b", site="s-2", trainer="t-2")]
    apart = [place("a"), place("b", period=1, site="s-2", trainer="t-2")]

    # cap = floor(0.25 * 100) = 25; 20 + 15 = 35 away at once: 10 over
    result = run(density_plan(0.25), together)
    assert result.breakdown["density"] == 10 * W.density
    assert run(density_plan(0.25), apart).breakdown["density"] == 0
    assert run(density_plan(0.35), together).breakdown["density"] == 0


def test_density_cap_is_rounded_down_with_float_care() -> None:
    # 0.29 * 100 is 28.999999999999996 in floats: the cap is 29, so 35 away is 6 over.
    together = [place("a"), place("b", site="s-2", trainer="t-2")]
    assert run(density_plan(0.29), together).breakdown["density"] == 6 * W.density
    # 0.3 * 50 = 15: 20 away alone is over by 5
    assert run(density_plan(0.3, 50), [place("a"), place("b", day=1)]).breakdown["density"] == (
        5 * W.density
    )


def test_load_peak_counts_sessions_at_the_busiest_slot() -> None:
    problem = two_courses()
    together = [place("a", site="s-1", trainer="t-1"), place("b", site="s-2", trainer="t-2")]
    apart = [place("a", site="s-1", trainer="t-1"), place("b", day=1, site="s-2", trainer="t-2")]

    assert run(problem, together).breakdown["load_peak"] == 2 * W.load_peak
    assert run(problem, apart).breakdown["load_peak"] == 1 * W.load_peak
    optional = make_problem(courses=[make_course(required=False)])
    assert run(optional, []).breakdown["load_peak"] == 0


def test_trainer_load_over_weekly_and_monthly_limits() -> None:
    calendar = make_calendar(days=40)  # weeks of 5 working days, months of 20
    course = make_course(sessions=3, min_days=1)
    week_0 = [place(session=k, day=k) for k in range(3)]
    weeks_apart = [place(session=k, day=5 * k) for k in range(3)]
    months_apart = [place(session=k, day=20 * k) for k in range(2)] + [place(session=2, day=5)]

    def load(placements: list[Placement], **limits: int) -> int:
        trainer = make_trainer(**limits)
        problem = make_problem(calendar=calendar, trainers=[trainer], courses=[course])
        return run(problem, placements).breakdown["trainer_load"]

    assert load(week_0, max_sessions_per_week=1) == 2 * W.trainer_load
    assert load(weeks_apart, max_sessions_per_week=1) == 0
    assert load(week_0, max_sessions_per_month=2) == 1 * W.trainer_load
    assert load(months_apart, max_sessions_per_month=2) == 0
    assert load(week_0, max_sessions_per_week=1, max_sessions_per_month=2) == 3 * W.trainer_load
    assert load(week_0) == 0


def test_plan_wide_costs_name_the_courses_that_make_them() -> None:
    """Load peak, density and trainer load are paid by no one course: each names those whose
    sessions make it (what a planner, or a neighbourhood, would move)."""
    together = [place("a"), place("b", site="s-2", trainer="t-2")]
    result = run(density_plan(0.25), together)
    by_term = {c.term: c for c in result.costs}
    assert by_term["density"].courses == ["a", "b"]
    assert by_term["load_peak"].courses == ["a", "b"]
    apart = [place("a"), place("b", day=1, site="s-2", trainer="t-2")]
    assert {c.term: c for c in run(density_plan(0.1), apart).costs}["load_peak"].courses == [
        "a",
        "b",
    ]  # two busiest periods, one session each

    calendar = make_calendar(days=10)
    problem = make_problem(
        calendar=calendar,
        trainers=[make_trainer(max_sessions_per_week=1)],
        courses=[make_course(id="x", sessions=1), make_course(id="y", sessions=1)],
        cohorts=[make_cohort()],
    )
    week_0 = [place("x", day=0), place("y", day=1)]
    loads = [c for c in run(problem, week_0).costs if c.term == "trainer_load"]
    assert [c.courses for c in loads] == [["x", "y"]]


def test_trainer_load_real_weeks_are_iso_weeks() -> None:
    # Thu 2027-03-04, Fri 03-05 and Mon 03-08: two sessions in the first week, one in the next.
    calendar = make_calendar(
        first_date=dt.date(2027, 3, 1), last_date=dt.date(2027, 3, 31), periods_per_day=1
    )
    days = [dt.date(2027, 3, 4), dt.date(2027, 3, 5), dt.date(2027, 3, 8)]
    problem = make_problem(
        calendar=calendar,
        trainers=[make_trainer(max_sessions_per_week=1)],
        courses=[make_course(sessions=3)],
    )
    result = run(problem, [place(session=k, day=d) for k, d in enumerate(days)])
    assert result.breakdown["trainer_load"] == 1 * W.trainer_load
    assert [c.message for c in result.costs if c.term == "trainer_load"] == [
        "trainer t-1 teaches 2 sessions in the week from 2027-03-01, 1 over their limit of 1"
    ]


def test_preferred_site_per_session_elsewhere() -> None:
    problem = make_problem(
        sites=[make_site(), make_site(id="s-2")],
        courses=[make_course(preferred_sites=["s-2"])],
    )
    assert run(problem, TWO_DAYS).breakdown["preferred_site"] == 2 * W.preferred_site
    there = [place(session=0, day=0, site="s-2"), place(session=1, day=1, site="s-2")]
    assert run(problem, there).breakdown["preferred_site"] == 0
    assert run(make_problem(), TWO_DAYS).breakdown["preferred_site"] == 0


def test_perturbation_per_moved_session_without_a_now() -> None:
    previous = [place(session=0, day=3), place(session=1, day=4)]
    problem = repair_plan(previous)

    assert run(problem, previous).breakdown["perturbation"] == 0
    moved_one = [previous[0], place(session=1, day=5)]
    assert run(problem, moved_one).breakdown["perturbation"] == 1 * W.perturbation
    new_trainer = [previous[0], place(session=1, day=4, trainer="t-2")]
    assert run(problem, new_trainer).breakdown["perturbation"] == 1 * W.perturbation
    new_period = [place(session=0, day=3, period=1), place(session=1, day=4, period=1)]
    assert run(problem, new_period).breakdown["perturbation"] == 2 * W.perturbation
    assert run(make_problem(), moved_one).breakdown["perturbation"] == 0  # no previous


def test_perturbation_ignores_courses_no_longer_in_the_plan() -> None:
    problem = repair_plan([*TWO_DAYS, place("cancelled", 0, 2)])
    assert run(problem, TWO_DAYS).breakdown["perturbation"] == 0


@pytest.mark.parametrize(
    ("ahead", "multiplier"),
    [(-3, 10), (0, 10), (1, 9), (6, 9), (7, 8), (28, 5), (55, 1), (56, 1), (300, 1)],
)
def test_perturbation_multiplier_ramps_from_ten_today_to_one_far_ahead(
    ahead: int, multiplier: int
) -> None:
    # 1 + (9 * (56 - ahead)) // 56, worked out: ahead 1 -> 1 + 495 // 56 = 9; 6 -> 1 + 450 // 56
    # = 9; 7 -> 1 + 441 // 56 = 8; 28 -> 1 + 252 // 56 = 5; 55 -> 1 + 9 // 56 = 1.
    policy = RepairPolicy(now=10, near_days=56)
    assert perturbation_multiplier(10 + ahead, policy) == multiplier
    assert perturbation_multiplier(10 + ahead, RepairPolicy()) == 1


def test_perturbation_ramp_in_a_repair_on_real_dates() -> None:
    # now 2027-02-01; session 0 was on 02-15 (14 days ahead: 1 + 378 // 56 = 7), session 1 on
    # 02-08, a Spring Festival day that is no longer a working day (7 ahead: 1 + 441 // 56 = 8).
    previous = [
        place(session=0, day=dt.date(2027, 2, 15)),
        place(session=1, day=dt.date(2027, 2, 8)),
    ]
    problem = cn_2027_february(previous=previous)
    moved = [place(session=0, day=dt.date(2027, 2, 16)), place(session=1, day=dt.date(2027, 2, 17))]
    policy = RepairPolicy(now=dt.date(2027, 2, 1), freeze_days=0)

    result = run(problem, moved, policy)
    assert result.feasible
    assert sorted(c.cost for c in result.costs if c.term == "perturbation") == [
        7 * W.perturbation,
        8 * W.perturbation,
    ]
    assert result.breakdown["perturbation"] == 15 * W.perturbation


def test_unscheduled_per_priority_point_of_an_optional_course() -> None:
    problem = make_problem(
        courses=[make_course(), make_course(id="c-2", required=False, priority=3)]
    )
    result = run(problem, TWO_DAYS)

    assert result.feasible
    assert unscheduled_courses(problem, TWO_DAYS) == ["c-2"]
    assert result.breakdown["unscheduled"] == 3 * W.unscheduled
    assert [c.course for c in result.costs if c.term == "unscheduled"] == ["c-2"]
    placed = [*TWO_DAYS, place("c-2", 0, 2), place("c-2", 1, 3)]
    assert unscheduled_courses(problem, placed) == []
    assert run(problem, placed).breakdown["unscheduled"] == 0


def test_zero_weights_pay_nothing() -> None:
    zero = Weights(**dict.fromkeys(SOFT_TERMS, 0))
    result = run(make_problem(), TWO_DAYS, weights=zero)
    assert result.objective == 0 and result.costs == []


# --- Scale ------------------------------------------------------------------------------------


def random_plan(courses: int, days: int, seed: int) -> tuple[Problem, list[Placement]]:
    """Courses of 2 sessions for 1 of 300 cohorts, placed at random (clashes and all)."""
    rng = random.Random(seed)
    n_sites, n_trainers, n_cohorts = 40, 80, 300

    def week_off() -> Window:
        first = rng.randrange(days - 5)
        return make_window(first, first + 5, reason="away")

    problem = make_problem(
        calendar=make_calendar(days=days),
        sites=[
            make_site(id=f"s-{i}", capacity=40, capacity_hard=i % 2 == 0) for i in range(n_sites)
        ],
        trainers=[
            make_trainer(
                id=f"t-{i}",
                max_sessions_per_week=3,
                unavailable=[week_off()],
            )
            for i in range(n_trainers)
        ],
        units=[make_unit(id=f"u-{i}", away_cap=0.1) for i in range(30)],
        cohorts=[make_cohort(id=f"q-{i}", unit=f"u-{i % 30}") for i in range(n_cohorts)],
        courses=[
            make_course(
                id=f"c-{i}", cohorts=[f"q-{rng.randrange(n_cohorts)}"], preferred_sites=["s-0"]
            )
            for i in range(courses)
        ],
        blackouts=[
            make_blackout(scope="unit", target=f"u-{i}", window=make_window(8 * i, 8 * i + 10))
            for i in range(30)
        ]
        + [make_blackout(window=make_window(100, 110), hard=False)],
    )
    placements = [
        place(
            f"c-{i}",
            k,
            rng.randrange(days),
            rng.randrange(2),
            f"s-{rng.randrange(n_sites)}",
            f"t-{rng.randrange(n_trainers)}",
        )
        for i in range(courses)
        for k in range(2)
    ]
    return problem, placements


def test_checks_a_city_year_quickly() -> None:
    problem, placements = random_plan(courses=750, days=250, seed=1)  # 1,500 sessions, 500 slots
    started = time.perf_counter()
    result = run(problem, placements)
    assert time.perf_counter() - started < 2.0
    assert not result.feasible and result.objective == sum(result.breakdown.values())


@pytest.mark.slow
def test_checks_a_national_programme_in_seconds() -> None:
    problem, placements = random_plan(courses=25_000, days=250, seed=2)  # 50,000 sessions
    started = time.perf_counter()
    result = run(problem, placements)
    assert time.perf_counter() - started < 10.0
    assert result.violations
