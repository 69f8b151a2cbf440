"""Changing a plan: each change is checked against the whole plan and written with its
past-tense event in one transaction; the event asks for one debounced repair."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from scheduler import plans, solve_requests
from scheduler.errors import Conflict, InvalidPlan, NotFound
from scheduler.events import event_from_record, list_events
from scheduler.runtime import Runtime
from solver.problem import Blackout, Cohort, Course, Pin, Site, Window
from tests.scheduler.factories import MONDAY, FakeClock, import_and_publish, make_problem

NOW = dt.datetime(2027, 2, 1, 9, tzinfo=dt.UTC)
WEEK = Window(first=MONDAY, last=MONDAY + dt.timedelta(days=4))


def test_every_kind_of_change_records_its_event(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan_id = plans.import_problem(session, make_problem(), now=NOW).id
    changes: list[Callable[[Session], object]] = [
        lambda s: plans.drop_out_trainer(s, plan_id, "t-1", WEEK, reason="sick", now=NOW),
        lambda s: plans.close_site(s, plan_id, "s-2", WEEK, reason="repairs", now=NOW),
        lambda s: plans.add_blackout(
            s, plan_id, Blackout(scope="unit", target="u-1", window=WEEK), now=NOW
        ),
        lambda s: plans.add_course(
            s, plan_id, Course(id="c-4", sessions=1, topic="law", cohorts=["q-1"]), now=NOW
        ),
        lambda s: plans.cancel_course(s, plan_id, "c-3", reason="merged", now=NOW),
        lambda s: plans.resize_cohort(s, plan_id, "q-1", 25, now=NOW),
        lambda s: plans.pin_session(s, plan_id, Pin(course="c-1", day=MONDAY), now=NOW),
        lambda s: plans.add_entity(s, plan_id, "site", Site(id="s-3", capacity=10), now=NOW),
        lambda s: plans.remove_entity(s, plan_id, "site", "s-3", now=NOW),
        lambda s: plans.update_plan(s, plan_id, weights={"stability": 9}, now=NOW),
    ]
    for change in changes:
        with sessions.begin() as session:
            change(session)
    with sessions.begin() as session:
        events = list_events(session, plan_id)
        assert [e.name for e in events] == [
            "PlanCreated",
            "TrainerDroppedOut",
            "SiteClosed",
            "BlackoutAdded",
            "CourseAdded",
            "CourseCancelled",
            "CohortResized",
            "SessionPinned",
            "EntityAdded",
            "EntityRemoved",
            "PlanChanged",
        ]
        resized = event_from_record(events[6])
        assert resized.describe() == "cohort q-1 resized from 20 to 25"
        problem = plans.export_problem(session, plan_id)
        assert [c.id for c in problem.courses] == ["c-1", "c-2", "c-4"]
        assert problem.trainers[0].unavailable[-1].reason == "sick"
        assert problem.sites[1].closures == [WEEK.model_copy(update={"reason": "repairs"})]
        assert problem.weights == {"stability": 9} and len(problem.blackouts) == 1


def test_a_change_that_breaks_the_plan_writes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan_id = plans.import_problem(session, make_problem(), now=NOW).id
    with pytest.raises(InvalidPlan) as raised, sessions.begin() as session:
        plans.remove_entity(session, plan_id, "unit", "u-1", now=NOW)
    assert any('unknown unit "u-1"' in e for e in raised.value.errors)
    with pytest.raises(InvalidPlan), sessions.begin() as session:
        plans.add_entity(
            session, plan_id, "cohort", Cohort(id="q-9", unit="nowhere", size=3), now=NOW
        )
    with pytest.raises(Conflict), sessions.begin() as session:
        plans.add_entity(session, plan_id, "site", Site(id="s-1", capacity=3), now=NOW)
    with pytest.raises(NotFound), sessions.begin() as session:
        plans.drop_out_trainer(session, plan_id, "t-9", WEEK, now=NOW)
    with sessions.begin() as session:
        assert [e.name for e in list_events(session, plan_id)] == ["PlanCreated"]
        assert plans.export_problem(session, plan_id) == make_problem()


def test_changes_fold_into_one_pending_repair_once_something_is_published(
    rt: Runtime, clock: FakeClock
) -> None:
    with rt.sessions.begin() as session:
        draft_plan = plans.import_problem(session, make_problem(), now=clock()).id
        plans.resize_cohort(session, draft_plan, "q-1", 21, now=clock())
        assert solve_requests.list_requests(session, draft_plan) == []  # nothing to repair

    plan_id = import_and_publish(rt)
    for size in (21, 22, 23):
        clock.advance(10)
        with rt.sessions.begin() as session:
            plans.resize_cohort(session, plan_id, "q-1", size, now=clock())
    with rt.sessions.begin() as session:
        (repair,) = [
            r for r in solve_requests.list_requests(session, plan_id) if r.purpose == "repair"
        ]
        assert repair.status == "pending" and repair.due_at == clock()
        assert repair.trigger.count("CohortResized") == 3
        debounce = dt.timedelta(seconds=30)
        assert solve_requests.due_requests(session, now=clock(), debounce=debounce) == []
        later = clock() + debounce
        assert [
            r.id for r in solve_requests.due_requests(session, now=later, debounce=debounce)
        ] == [repair.id]


def test_blackouts_and_pins_are_addressed_by_their_row_ids(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan_id = plans.import_problem(session, make_problem(), now=NOW).id
        first = plans.add_blackout(
            session, plan_id, Blackout(scope="plan", window=WEEK, hard=False), now=NOW
        )
        plans.add_blackout(
            session, plan_id, Blackout(scope="site", target="s-1", window=WEEK), now=NOW
        )
        plans.remove_blackout(session, plan_id, first.id, now=NOW)
        (left,) = plans.list_blackouts(session, plan_id)
        assert left.item == Blackout(scope="site", target="s-1", window=WEEK)
        with pytest.raises(NotFound):
            plans.remove_pin(session, plan_id, 12345, now=NOW)


def test_plan_settings_the_worker_relies_on_are_checked(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan_id = plans.import_problem(session, make_problem(), now=NOW).id
    for bad in (
        {"nightly_cron": "every night"},
        {"nightly_time_zone": "Mars/Olympus"},
        {"publish_policy": "sometimes"},
        {"nightly_margin": 1.5},
    ):
        with pytest.raises(InvalidPlan), sessions.begin() as session:
            plans.update_plan(session, plan_id, now=NOW, **bad)
    with sessions.begin() as session:
        plan = plans.update_plan(
            session,
            plan_id,
            nightly_cron="0 3 * * 1-5",
            nightly_time_zone="Asia/Shanghai",
            now=NOW,
        )
        assert (plan.nightly_cron, plan.nightly_time_zone) == ("0 3 * * 1-5", "Asia/Shanghai")
        assert list_events(session, plan_id)[-1].name == "PlanChanged"
