"""The worker's wiring: fixed job ids, one nightly job per plan in its own time zone, and the
embedded worker starting and stopping inside a process."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from scheduler import plans
from scheduler.runtime import Runtime
from scheduler.worker import add_jobs, schedule_nightly_runs, start_embedded_worker
from tests.scheduler.factories import FakeClock, make_problem


def test_jobs_have_fixed_ids_and_nightly_jobs_follow_the_plans(
    rt: Runtime, clock: FakeClock
) -> None:
    with rt.sessions.begin() as session:
        first = plans.import_problem(session, make_problem(), now=clock()).id
        second = plans.import_problem(session, make_problem(), now=clock()).id
        plans.update_plan(
            session,
            second,
            nightly_cron="30 1 * * *",
            nightly_time_zone="Asia/Shanghai",
            now=clock(),
        )
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)  # jobs are stored (and replaced) but never run
    try:
        check_jobs(scheduler, rt, clock, first, second)
    finally:
        scheduler.shutdown(wait=False)


def check_jobs(
    scheduler: BackgroundScheduler, rt: Runtime, clock: FakeClock, first: int, second: int
) -> None:
    add_jobs(scheduler, rt)
    add_jobs(scheduler, rt)  # a restart replaces, never duplicates
    schedule_nightly_runs(scheduler, rt)
    ids = sorted(job.id for job in scheduler.get_jobs())
    assert ids == sorted(
        [
            "solve_pending_requests",
            "deliver_due_notifications",
            "produce_all_briefings",
            "schedule_nightly_runs",
            f"nightly:{first}",
            f"nightly:{second}",
        ]
    )
    trigger = scheduler.get_job(f"nightly:{second}").trigger
    assert str(trigger.timezone) == "Asia/Shanghai" and "hour='1', minute='30'" in str(trigger)
    assert str(scheduler.get_job(f"nightly:{first}").trigger.timezone) == "UTC"

    before = scheduler.get_job(f"nightly:{first}")
    schedule_nightly_runs(scheduler, rt)
    assert scheduler.get_job(f"nightly:{first}") is before  # unchanged cron: left alone
    with rt.sessions.begin() as session:
        plans.update_plan(session, first, nightly_enabled=False, now=clock())
    schedule_nightly_runs(scheduler, rt)
    assert scheduler.get_job(f"nightly:{first}") is None


def test_the_embedded_worker_starts_and_stops(rt: Runtime) -> None:
    worker = start_embedded_worker(rt.settings)
    try:
        assert worker.scheduler.running
        assert worker.scheduler.get_job("solve_pending_requests") is not None
    finally:
        worker.stop()
    assert not worker.scheduler.running
