"""The worker's jobs: plain functions of a `Runtime` (and ids), each opening its own sessions.

APScheduler calls them on a timer (`scheduler.worker`); tests call them directly with a fake
clock. All their state is in the database, so any of them can be interrupted and run again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from sqlalchemy import select

from scheduler.briefing import produce_briefings
from scheduler.channels import DeliveryFailed
from scheduler.locks import plan_lock
from scheduler.notifications import (
    claim_notification,
    due_notification_ids,
    record_delivery,
    send_notification,
)
from scheduler.runs import (
    fail_run,
    finish_run,
    request_nightly,
    running_runs,
    solve_run,
    solve_run_in_child,
    start_run,
)
from scheduler.runtime import Runtime
from scheduler.solve_requests import cancel_requested, due_requests
from scheduler.tables import Notification, Plan, SolveRequest, Subscription

log = logging.getLogger(__name__)
CRASHED = "the worker stopped during the solve (crashed or killed)"


def _lease(rt: Runtime) -> dt.timedelta:
    # A solve with one worker may take up to four times its limit (see solver.solve.configure).
    return dt.timedelta(seconds=4 * rt.settings.solve_time_limit + rt.settings.lease_seconds)


def solve_pending_requests(rt: Runtime) -> list[int]:
    """Run every due solve request, oldest first; returns the ids of the runs made."""
    debounce = dt.timedelta(seconds=rt.settings.repair_debounce_seconds)
    with rt.sessions.begin() as session:
        due = [(r.id, r.plan_id) for r in due_requests(session, now=rt.clock(), debounce=debounce)]
    runs = []
    for request_id, plan_id in due:
        run_id = run_request(rt, request_id, plan_id)
        if run_id is not None:
            runs.append(run_id)
    return runs


def run_request(rt: Runtime, request_id: int, plan_id: int) -> int | None:
    """Solve one request while holding its plan (None: another worker holds the plan, or the
    request is no longer pending)."""
    with plan_lock(rt.engine, plan_id, holder=rt.worker, now=rt.clock(), ttl=_lease(rt)) as got:
        if not got:
            return None
        with rt.sessions.begin() as session:
            run = start_run(
                session, request_id, now=rt.clock(), worker=rt.worker, settings=rt.settings
            )
        if run is None:
            return None
        log.info("run %s: solving plan %s (request %s)", run.run_id, plan_id, request_id)
        started = time.monotonic()
        try:
            stop = cancel_poll(rt, request_id)
            isolated = rt.settings.solve_in_child_process
            solution = solve_run_in_child(run, stop) if isolated else solve_run(run, stop)
            with rt.sessions.begin() as session:
                done = finish_run(
                    session,
                    run.run_id,
                    solution,
                    now=rt.clock(),
                    duration=time.monotonic() - started,
                    settings=rt.settings,
                )
                log.info("run %s: %s, %s", run.run_id, done.status, done.outcome)
        except Exception as exc:
            log.exception("run %s failed", run.run_id)
            with rt.sessions.begin() as session:
                fail_run(
                    session,
                    run.run_id,
                    f"{type(exc).__name__}: {exc}",
                    now=rt.clock(),
                    max_attempts=rt.settings.max_run_attempts,
                )
        return run.run_id


def cancel_poll(rt: Runtime, request_id: int, every: float = 1.0) -> Callable[[], bool]:
    """Asks the database, at most once a second, whether a planner cancelled the request."""
    last = [0.0, False]

    def cancelled() -> bool:
        if not last[1] and time.monotonic() - float(last[0]) >= every:
            last[0] = time.monotonic()
            with rt.sessions.begin() as session:
                last[1] = cancel_requested(session, request_id)
        return bool(last[1])

    return cancelled


def fail_crashed_runs(rt: Runtime) -> list[int]:
    """At start: mark failed every run left running by a worker that is gone (its plan is free),
    so that its request runs again. Runs of live workers are left alone."""
    with rt.sessions.begin() as session:
        running = [(r.id, r.plan_id) for r in running_runs(session)]
    failed = []
    for run_id, plan_id in running:
        with plan_lock(rt.engine, plan_id, holder=rt.worker, now=rt.clock(), ttl=_lease(rt)) as got:
            if not got:
                continue
            with rt.sessions.begin() as session:
                fail_run(
                    session,
                    run_id,
                    CRASHED,
                    now=rt.clock(),
                    max_attempts=rt.settings.max_run_attempts,
                )
            log.warning("run %s of plan %s marked failed: %s", run_id, plan_id, CRASHED)
            failed.append(run_id)
    return failed


def deliver_due_notifications(rt: Runtime, *, limit: int = 100) -> int:
    """Send due outbox notifications, each claimed first and settled in its own transaction;
    returns how many were delivered."""
    s = rt.settings
    with rt.sessions.begin() as session:
        due = due_notification_ids(session, now=rt.clock(), limit=limit)
    claim = dt.timedelta(seconds=max(60.0, 3 * s.webhook_timeout_seconds))
    delivered = 0
    for notification_id in due:
        with rt.sessions.begin() as session:
            notification = claim_notification(session, notification_id, now=rt.clock(), claim=claim)
            subscription = (
                session.get(Subscription, notification.subscription_id)
                if notification is not None and notification.subscription_id is not None
                else None
            )
        if notification is None:
            continue
        error, final = None, False
        if subscription is not None and not subscription.active:
            error, final = "the subscription was removed", True
        else:
            try:
                send_notification(notification, subscription, s, now=rt.clock(), client=rt.http)
            except DeliveryFailed as exc:
                error = str(exc)
                log.warning("notification %s: %s", notification_id, error)
        with rt.sessions.begin() as session:
            settled: Notification = record_delivery(
                session,
                notification_id,
                error=error,
                now=rt.clock(),
                backoff=dt.timedelta(seconds=s.delivery_backoff_seconds),
                max_attempts=s.delivery_max_attempts,
                final=final,
            )
            delivered += settled.status == "delivered"
    return delivered


def request_nightly_optimisation(rt: Runtime, plan_id: int) -> int | None:
    """The nightly cron of a plan: queue its re-optimisation (the worker runs it next)."""
    with rt.sessions.begin() as session:
        request: SolveRequest | None = request_nightly(session, plan_id, now=rt.clock())
        return request.id if request is not None else None


def produce_all_briefings(rt: Runtime) -> int:
    """The briefing cron: every unit of every published plan gets its digest."""
    with rt.sessions.begin() as session:
        plan_ids = list(session.scalars(select(Plan.id).order_by(Plan.id)))
    produced = 0
    for plan_id in plan_ids:
        with rt.sessions.begin() as session:
            produced += len(
                produce_briefings(
                    session, plan_id, now=rt.clock(), ahead_days=rt.settings.briefing_ahead_days
                )
            )
    return produced
