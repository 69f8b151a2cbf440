"""A change to a plan, end to end on a fake clock: event -> debounced repair -> version ->
notifications, and what a repair or a nightly run may publish on its own."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from scheduler import jobs, plans, runs, solve_requests, versions
from scheduler.channels import read_outbox_file
from scheduler.events import list_events
from scheduler.notifications import list_notifications
from scheduler.runtime import Runtime
from scheduler.tables import Notification
from solver.problem import Window
from solver.solution import Solution
from solver.solve import solve
from tests.scheduler.factories import MONDAY, FakeClock, import_and_publish, make_problem

WHOLE_PLAN = Window(first=MONDAY, last=MONDAY + dt.timedelta(days=11))


def trainer_of(rt: Runtime, plan_id: int, course: str) -> str:
    with rt.sessions.begin() as session:
        version = versions.latest_version(session, plan_id)
        assert version is not None
        return next(s.trainer for s in version.sessions if s.course == course)


def test_a_trainer_dropping_out_is_repaired_published_and_notified_once(
    rt: Runtime, clock: FakeClock
) -> None:
    plan_id = import_and_publish(rt)
    assert jobs.deliver_due_notifications(rt) > 0  # version 1's notifications
    before = read_outbox_file(rt.settings.outbox_dir)
    gone = trainer_of(rt, plan_id, "c-1")

    with rt.sessions.begin() as session:
        plans.drop_out_trainer(session, plan_id, gone, WHOLE_PLAN, reason="sick", now=clock())
        event = list_events(session, plan_id)[-1]
        assert event.name == "TrainerDroppedOut"
    clock.advance(20)
    with rt.sessions.begin() as session:  # a second change inside the debounce folds in
        plans.resize_cohort(session, plan_id, "q-2", 19, now=clock())
        pending = solve_requests.list_requests(session, plan_id)
        assert [r.purpose for r in pending if r.status == "pending"] == ["repair"]

    clock.advance(29)  # 29 s after the last change: still waiting
    assert jobs.solve_pending_requests(rt) == []
    clock.advance(2)
    (run_id,) = jobs.solve_pending_requests(rt)

    with rt.sessions.begin() as session:
        run = runs.get_run(session, run_id)
        assert (run.mode, run.purpose, run.outcome) == ("repair", "repair", "published")
        assert "TrainerDroppedOut" in run.trigger and "CohortResized" in run.trigger
        version = versions.latest_version(session, plan_id)
        assert version is not None and version.number == 2 and version.run_id == run_id
        assert all(s.trainer != gone for s in version.sessions)
        diff = versions.diff_versions(session, plan_id, 1, 2)
        moved = [c for c in diff.moved if c.old is not None and c.old.trainer == gone]
        assert moved and all(c.rule == "trainer_unavailable" for c in moved)
        assert all(c.event_id == event.id and "dropped out" in c.reason for c in moved)
        changed_parties = {("trainer", gone), ("unit", "u-1")}
        notified = {
            (n.party_kind, n.party_id)
            for n in list_notifications(session, plan_id)
            if n.version_id == version.id
        }
        assert changed_parties <= notified
        assert ("trainer", "t-3") not in notified  # t-3's sessions did not change

    delivered = jobs.deliver_due_notifications(rt)
    assert delivered == len(notified)
    assert jobs.deliver_due_notifications(rt) == 0  # nothing is sent twice
    lines = read_outbox_file(rt.settings.outbox_dir)[len(before) :]
    assert sorted((x["party"]["kind"], x["party"]["id"]) for x in lines) == sorted(notified)
    keys = [x["idempotency_key"] for x in read_outbox_file(rt.settings.outbox_dir)]
    assert len(keys) == len(set(keys))


def test_a_repair_that_moves_sessions_inside_the_freeze_horizon_waits_as_a_draft(
    rt: Runtime, clock: FakeClock
) -> None:
    plan_id = import_and_publish(rt)
    clock.now = dt.datetime(2027, 2, 26, 8, tzinfo=dt.UTC)  # the plan starts within 14 days
    gone = trainer_of(rt, plan_id, "c-1")
    with rt.sessions.begin() as session:
        plans.drop_out_trainer(session, plan_id, gone, WHOLE_PLAN, now=clock())
    clock.advance(31)
    (run_id,) = jobs.solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        run = runs.get_run(session, run_id)
        assert run.status in ("optimal", "feasible") and run.outcome == "draft"
        latest = versions.latest_version(session, plan_id)
        assert latest is not None and latest.number == 1
        preview = runs.preview_run(session, run_id)
        assert preview.moved and preview.from_version == 1
        version = runs.publish_run(session, run_id, now=clock(), by="planner")
        assert version.number == 2 and version.published_by == "planner"


def test_a_manual_plan_keeps_every_repair_as_a_draft(rt: Runtime, clock: FakeClock) -> None:
    plan_id = import_and_publish(rt)
    with rt.sessions.begin() as session:
        plans.update_plan(session, plan_id, publish_policy="manual", now=clock())
        plans.drop_out_trainer(
            session, plan_id, trainer_of(rt, plan_id, "c-1"), WHOLE_PLAN, now=clock()
        )
    clock.advance(31)
    (run_id,) = jobs.solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        assert runs.get_run(session, run_id).outcome == "draft"


def test_changes_made_during_a_solve_make_its_result_stale(
    rt: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = import_and_publish(rt)

    def solve_while_someone_edits(*args, **kwargs):  # type: ignore[no-untyped-def]
        with rt.sessions.begin() as session:
            plans.resize_cohort(session, plan_id, "q-1", 21, now=clock())
        return solve(*args, **kwargs)

    with rt.sessions.begin() as session:
        plans.resize_cohort(session, plan_id, "q-1", 22, now=clock())
    clock.advance(31)
    monkeypatch.setattr("scheduler.runs.solve", solve_while_someone_edits)
    (run_id,) = jobs.solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        assert runs.get_run(session, run_id).outcome == "stale"
        assert [r.status for r in solve_requests.list_requests(session, plan_id)][0] == "pending"


def test_a_failed_run_leaves_the_published_version_alone_and_is_retried(
    rt: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = import_and_publish(rt)
    with rt.sessions.begin() as session:
        plans.drop_out_trainer(
            session, plan_id, trainer_of(rt, plan_id, "c-1"), WHOLE_PLAN, now=clock()
        )
        outbox = session.scalar(select(func.count()).select_from(Notification))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("scheduler.runs.solve", broken)
    clock.advance(31)
    (failed_id,) = jobs.solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        failed = runs.get_run(session, failed_id)
        assert failed.status == "failed" and "solver exploded" in (failed.error or "")
        latest = versions.latest_version(session, plan_id)
        assert latest is not None and latest.number == 1
        assert session.scalar(select(func.count()).select_from(Notification)) == outbox
        (request,) = [
            r for r in solve_requests.list_requests(session, plan_id) if r.purpose == "repair"
        ]
        assert request.status == "pending" and request.attempts == 1

    monkeypatch.undo()
    (retried_id,) = jobs.solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        assert runs.get_run(session, retried_id).outcome == "published"


def test_nightly_publishes_only_when_better_by_the_margin(rt: Runtime, clock: FakeClock) -> None:
    plan_id = import_and_publish(rt)
    with rt.sessions.begin() as session:
        assert runs.request_nightly(session, plan_id, now=clock()) is not None
        assert runs.request_nightly(session, plan_id, now=clock()) is None  # one at a time
    (kept_id,) = jobs.solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        kept = runs.get_run(session, kept_id)
        # Version 1 was optimal: the nightly run finds nothing better to publish.
        assert kept.purpose == "nightly" and kept.outcome in ("unchanged", "kept")
        # A heavier compactness weight makes the published schedule worse than what the
        # nightly run finds, by far more than the margin.
        plans.update_plan(session, plan_id, weights={"compactness": 500}, now=clock())
        # The weight change asked for a repair: withdraw it, this test is about the nightly run.
        for r in solve_requests.list_requests(session, plan_id):
            if r.status == "pending":
                solve_requests.cancel_request(session, r.id, now=clock())
        runs.request_nightly(session, plan_id, now=clock())
    (better_id,) = jobs.solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        better = runs.get_run(session, better_id)
        assert better.outcome == "published"
        latest = versions.latest_version(session, plan_id)
        assert latest is not None and latest.trigger == "nightly re-optimisation"


def test_a_recorded_run_reproduces_with_its_seed(rt: Runtime, clock: FakeClock) -> None:
    plan_id = import_and_publish(rt, make_problem())
    with rt.sessions.begin() as session:
        (run,) = runs.list_runs(session, plan_id)
        assert len(run.input_hash) == 64 and run.seed == rt.settings.solve_seed
        assert run.params["workers"] == 1 and run.duration_s is not None
        again = runs.reproduce_run(run)
        recorded = Solution.model_validate(run.solution)
        assert again.placements == recorded.placements
        assert again.objective == run.objective
        runs.request_rerun(session, run.id, now=clock(), requested_by="auditor")
    (rerun_id,) = jobs.solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        rerun = runs.get_run(session, rerun_id)
        original = runs.get_run(session, run.id)
        assert rerun.input_hash == original.input_hash and rerun.outcome == "what_if"
        assert rerun.solution is not None and original.solution is not None
        assert rerun.solution["placements"] == original.solution["placements"]


def test_a_running_solve_cancelled_by_a_planner_stops_and_publishes_nothing(
    rt: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = import_and_publish(rt)
    with rt.sessions.begin() as session:
        plans.drop_out_trainer(
            session, plan_id, trainer_of(rt, plan_id, "c-1"), WHOLE_PLAN, now=clock()
        )
        outbox = session.scalar(select(func.count()).select_from(Notification))
    asked: list[bool] = []

    def cancelled_midway(*args: object, stop: object = None, **kwargs: object) -> Solution:
        with rt.sessions.begin() as session:  # the planner presses cancel while it runs
            (running,) = [
                r for r in solve_requests.list_requests(session, plan_id) if r.status == "running"
            ]
            assert solve_requests.cancel_request(session, running.id, now=clock()).status == (
                "cancelling"
            )
        assert callable(stop)
        for _ in range(100):  # the solver asks between steps; the worker answers within ~1 s
            if stop():
                asked.append(True)
                break
            time.sleep(0.05)
        return solve(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("scheduler.runs.solve", cancelled_midway)
    clock.advance(31)
    (run_id,) = jobs.solve_pending_requests(rt)
    assert asked == [True]
    with rt.sessions.begin() as session:
        assert runs.get_run(session, run_id).outcome == "cancelled"
        latest = versions.latest_version(session, plan_id)
        assert latest is not None and latest.number == 1
        assert session.scalar(select(func.count()).select_from(Notification)) == outbox
        statuses = {r.status for r in solve_requests.list_requests(session, plan_id)}
        assert "cancelled" in statuses and "running" not in statuses
