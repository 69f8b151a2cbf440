"""A real worker process (`python -m scheduler`) killed with SIGKILL in the middle of a repair,
then restarted: the published version is intact, the killed run is failed, the repair runs
again and publishes, and no notification is sent twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import select

from scheduler import jobs, plans, runs, versions
from scheduler.channels import read_outbox_file
from scheduler.clock import utc_now
from scheduler.conversion import placements_from_rows
from scheduler.database import make_engine, make_sessions, upgrade
from scheduler.runtime import Runtime
from scheduler.tables import Notification, SolveRun
from solver.problem import Calendar, Cohort, Course, Problem, Site, Trainer, Unit, Window
from tests.scheduler.factories import MONDAY, import_and_publish, make_settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def hard_problem() -> Problem:
    """Found at once, never proven optimal within a minute: twelve interchangeable courses,
    with moves nearly free (perturbation weight 1), so a repair is a full re-optimisation."""
    return Problem(
        name="hard to prove",
        calendar=Calendar(first_date=MONDAY, last_date=MONDAY + dt.timedelta(days=11)),
        sites=[Site(id=f"s-{i}", capacity=60) for i in range(3)],
        trainers=[Trainer(id=f"t-{i}", topics=["law"]) for i in range(4)],
        units=[Unit(id=f"u-{i}", headcount=100) for i in range(4)],
        cohorts=[Cohort(id=f"q-{i}", unit=f"u-{i % 4}", size=15 + i) for i in range(8)],
        courses=[
            Course(id=f"c-{i}", sessions=2, topic="law", cohorts=[f"q-{i % 8}"]) for i in range(12)
        ],
        weights={"perturbation": 1},
    )


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def real_clock_runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The test's own runtime on the real clock, which the worker processes share."""
    settings = make_settings(db_url, tmp_path / "outbox", solve_time_limit=0.5)
    upgrade(db_url)
    engine = make_engine(db_url)
    rt = Runtime(engine, make_sessions(engine), settings, httpx.Client(), utc_now)
    try:
        yield rt
    finally:
        rt.close()


def start_worker(rt: Runtime, log: Path, time_limit: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OFFSEASON_DATABASE_URL": rt.settings.database_url,
        "OFFSEASON_OUTBOX_DIR": str(rt.settings.outbox_dir),
        "OFFSEASON_SOLVE_TIME_LIMIT": str(time_limit),
        "OFFSEASON_SOLVE_WORKERS": "1",
        "OFFSEASON_REPAIR_DEBOUNCE_SECONDS": "0",
        "OFFSEASON_WORKER_POLL_SECONDS": "0.2",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler"], env=env, cwd=log.parent, stdout=out, stderr=out
        )


def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(
    real_clock_runtime: Runtime, tmp_path: Path
) -> None:
    rt = real_clock_runtime
    plan_id = import_and_publish(rt, hard_problem())
    jobs.deliver_due_notifications(rt)
    with rt.sessions.begin() as session:
        published = versions.published_placements(session, plan_id)
        plans.drop_out_trainer(
            session,
            plan_id,
            "t-0",
            Window(first=MONDAY, last=MONDAY + dt.timedelta(days=11)),
            reason="left",
            now=rt.clock(),
        )

    def running_run() -> SolveRun | None:
        with rt.sessions.begin() as session:
            return session.scalar(select(SolveRun).where(SolveRun.status == "running"))

    log = tmp_path / "worker.log"
    first = start_worker(rt, log, time_limit=60)
    try:
        killed = wait_for(running_run, 60, "the worker to start the repair")
        time.sleep(0.5)
        assert first.poll() is None, log.read_text()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)

    with rt.sessions.begin() as session:
        assert runs.get_run(session, killed.id).status == "running"  # nobody could say
        latest = versions.latest_version(session, plan_id)
        assert latest is not None and latest.number == 1
        assert versions.published_placements(session, plan_id) == published

    second = start_worker(rt, log, time_limit=1)
    try:

        def repaired() -> SolveRun | None:
            with rt.sessions.begin() as session:
                done = session.scalar(
                    select(SolveRun).where(SolveRun.id > killed.id, SolveRun.outcome.is_not(None))
                )
                undelivered = session.scalar(
                    select(Notification.id).where(Notification.status != "delivered").limit(1)
                )
                return done if done is not None and undelivered is None else None

        again = wait_for(repaired, 60, "the repair to run again and its notifications to go")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert second.returncode == 0, log.read_text()

    with rt.sessions.begin() as session:
        failed = runs.get_run(session, killed.id)
        assert failed.status == "failed" and "killed" in (failed.error or "")
        assert again.request_id == failed.request_id and again.outcome == "published"
        assert again.status in ("optimal", "feasible")
        v1 = versions.get_version(session, plan_id, 1)
        assert placements_from_rows(v1.sessions) == published
        v2 = versions.latest_version(session, plan_id)
        assert v2 is not None and v2.number == 2 and v2.run_id == again.id
        assert all(s.trainer != "t-0" for s in v2.sessions)
        rows = list(session.scalars(select(Notification)))
    lines = read_outbox_file(rt.settings.outbox_dir)
    keys = [line["idempotency_key"] for line in lines]
    assert len(keys) == len(set(keys)) == len(rows)
    assert set(keys) == {n.idempotency_key for n in rows}
