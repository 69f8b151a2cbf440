"""Briefings: per unit, what was held, what comes, what changed, and its cohorts' coverage."""

from __future__ import annotations

import datetime as dt

from scheduler import jobs, plans
from scheduler.briefing import build_briefing, list_briefings
from scheduler.channels import read_outbox_file
from scheduler.runtime import Runtime
from solver.problem import Course, Pin
from tests.scheduler.factories import FakeClock, import_and_publish, make_problem


def test_a_unit_briefing_reports_held_coming_changed_and_coverage(
    rt: Runtime, clock: FakeClock
) -> None:
    problem = make_problem(
        courses=[
            *make_problem().courses,
            # Needs 100 seats, more than any site: never scheduled, a gap in coverage.
            Course(
                id="c-9",
                name="Big forum",
                sessions=1,
                topic="law",
                cohorts=["q-2"],
                attendance=100,
                required=False,
            ),
        ],
        # Held by the Tuesday of the second week whatever else is optimal.
        pins=[Pin(course="c-3", day=dt.date(2027, 3, 2))],
    )
    plan_id = import_and_publish(rt, problem)
    assert jobs.produce_all_briefings(rt) == 2  # one per unit, the baseline
    with rt.sessions.begin() as session:  # public finance may start only in the second week
        plans.replace_entity(
            session,
            plan_id,
            "course",
            "c-2",
            Course(
                id="c-2",
                name="Public finance",
                sessions=2,
                trainer="t-3",
                cohorts=["q-2"],
                earliest=dt.date(2027, 3, 8),
            ),
            now=clock(),
        )
    clock.advance(31)
    jobs.solve_pending_requests(rt)

    clock.now = dt.datetime(2027, 3, 9, 8, tzinfo=dt.UTC)  # Tuesday of the second week
    with rt.sessions.begin() as session:
        report = build_briefing(session, plan_id, "u-2", now=clock(), ahead_days=30)
    assert report.version == 2 and report.today == dt.date(2027, 3, 9)
    today = dt.date(2027, 3, 9)
    assert report.held and all(s.day < today for s in report.held)  # type: ignore[operator]
    assert all(s.day >= today for s in report.coming)  # type: ignore[operator]
    assert sorted(s.course for s in report.held + report.coming) == ["c-2", "c-2", "c-3"]
    (coverage,) = report.coverage
    assert coverage.cohort == "q-2" and coverage.courses == 3
    assert coverage.unscheduled == ["c-9"] and sorted(coverage.scheduled) == ["c-2", "c-3"]
    assert coverage.sessions == 3 and coverage.held == len(report.held)
    assert "not scheduled: c-9" in report.text()
    assert {c.course for c in report.changed} == {"c-2"}
    assert all("c-2 changed" in c.reason for c in report.changed)

    assert jobs.produce_all_briefings(rt) == 2
    with rt.sessions.begin() as session:
        latest = list_briefings(session, plan_id, unit="u-2")[0]
        assert {c["course"] for c in latest.content["changed"]} == {"c-2"}
        u1 = list_briefings(session, plan_id, unit="u-1")[0]
        assert u1.content["changed"] == []  # u-1's sessions did not change
    jobs.deliver_due_notifications(rt)
    briefings = [x for x in read_outbox_file(rt.settings.outbox_dir) if x["type"] == "briefing"]
    assert sorted(x["party"]["id"] for x in briefings) == ["u-1", "u-1", "u-2", "u-2"]
    with rt.sessions.begin() as session:  # the next briefing starts where this one ended
        assert build_briefing(session, plan_id, "u-2", now=clock()).changed == []
