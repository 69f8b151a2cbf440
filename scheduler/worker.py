"""The worker: APScheduler 3 runs `scheduler.jobs` on timers, outside any web request.

`run_worker(settings)` is the production process (`offseason worker`, or `python -m scheduler`)
and its one wiring place; `start_embedded_worker(settings)` runs the same jobs on a background
thread of the API process (the single-process default). Jobs have fixed ids and are replaced at
start; their state lives in our tables, so the job store is memory.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from scheduler.clock import Clock, utc_now
from scheduler.jobs import (
    deliver_due_notifications,
    fail_crashed_runs,
    produce_all_briefings,
    request_nightly_optimisation,
    solve_pending_requests,
)
from scheduler.runtime import Runtime
from scheduler.tables import Plan

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)
NIGHTLY = "nightly:{plan_id}"
PLANS_REFRESH_SECONDS = 60


def add_jobs(scheduler: BaseScheduler, rt: Runtime) -> None:
    """Register the worker's jobs (fixed ids, replacing any left from before)."""
    s = rt.settings
    common = {"replace_existing": True, "max_instances": 1, "coalesce": True}
    scheduler.add_job(
        solve_pending_requests,
        "interval",
        seconds=s.worker_poll_seconds,
        args=[rt],
        id="solve_pending_requests",
        **common,
    )
    scheduler.add_job(
        deliver_due_notifications,
        "interval",
        seconds=s.worker_poll_seconds,
        args=[rt],
        id="deliver_due_notifications",
        **common,
    )
    scheduler.add_job(
        produce_all_briefings,
        CronTrigger.from_crontab(s.briefing_cron, timezone=s.briefing_time_zone),
        args=[rt],
        id="produce_all_briefings",
        **common,
    )
    scheduler.add_job(
        schedule_nightly_runs,
        "interval",
        seconds=PLANS_REFRESH_SECONDS,
        args=[scheduler, rt],
        id="schedule_nightly_runs",
        next_run_time=rt.clock(),
        **common,
    )


def schedule_nightly_runs(scheduler: BaseScheduler, rt: Runtime) -> None:
    """Keep one nightly cron job per plan, following each plan's own cron and time zone.

    A job is replaced only when its plan's cron changed: replacing recomputes the next fire
    time from now, which could skip a run due this very moment.
    """
    s = rt.settings
    with rt.sessions.begin() as session:
        plans = [
            (p.id, p.nightly_enabled, p.nightly_cron or s.nightly_cron, p.nightly_time_zone)
            for p in session.scalars(select(Plan))
        ]
    wanted = set()
    for plan_id, enabled, cron, zone in plans:
        if not enabled:
            continue
        job_id = NIGHTLY.format(plan_id=plan_id)
        wanted.add(job_id)
        try:
            trigger = CronTrigger.from_crontab(cron, timezone=zone or s.nightly_time_zone)
        except (ValueError, LookupError):
            log.exception("plan %s: bad nightly cron %r or time zone %r", plan_id, cron, zone)
            continue
        job = scheduler.get_job(job_id)
        if job is not None and repr(job.trigger) == repr(trigger):
            continue
        scheduler.add_job(
            request_nightly_optimisation,
            trigger,
            args=[rt, plan_id],
            id=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
        log.info("plan %s: nightly re-optimisation at %r", plan_id, trigger)
    for job in scheduler.get_jobs():
        if job.id.startswith("nightly:") and job.id not in wanted:
            job.remove()


def run_worker(settings: Settings, clock: Clock = utc_now) -> None:
    """The worker process: fail the runs a dead worker left, then run the jobs until SIGTERM
    or Ctrl-C."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rt = Runtime.open(settings, clock)
    try:
        fail_crashed_runs(rt)
        scheduler = BlockingScheduler(timezone="UTC")
        add_jobs(scheduler, rt)

        def stop(signum: int, frame: FrameType | None) -> None:
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        log.info("worker %s started on %s", rt.worker, rt.engine.url.render_as_string())
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            scheduler.start()
    finally:
        rt.close()


@dataclass(frozen=True)
class EmbeddedWorker:
    """The worker inside the API process; `stop()` it in the API's lifespan shutdown."""

    runtime: Runtime
    scheduler: BackgroundScheduler

    def stop(self) -> None:
        # A solve still running is left to the process's end: its run is failed and its
        # request retried at the next start, as after a crash.
        self.scheduler.shutdown(wait=False)
        self.runtime.close()


def start_embedded_worker(settings: Settings, clock: Clock = utc_now) -> EmbeddedWorker:
    rt = Runtime.open(settings, clock)
    fail_crashed_runs(rt)
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, rt)
    scheduler.start()
    return EmbeddedWorker(rt, scheduler)
