"""Small plans for scheduler tests: two real weeks (so that "today" and freezing mean something),
two sites, three trainers, two units with a cohort each, and three short courses. Solves in well
under a second."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from config.settings import Settings
from scheduler.jobs import solve_pending_requests
from scheduler.plans import import_problem
from scheduler.runs import publish_run
from scheduler.runtime import Runtime
from scheduler.solve_requests import request_solve
from solver.problem import Calendar, Cohort, Course, Problem, Site, Trainer, Unit

MONDAY = dt.date(2027, 3, 1)


def make_problem(**overrides: Any) -> Problem:
    """Working days 2027-03-01 .. 2027-03-12 (ten), two periods a day."""
    fields: dict[str, Any] = {
        "name": "spring programme",
        "calendar": Calendar(
            first_date=MONDAY, last_date=MONDAY + dt.timedelta(days=11), periods_per_day=2
        ),
        "sites": [
            Site(id="s-1", name="Party school hall", capacity=40),
            Site(id="s-2", name="District base", capacity=25),
        ],
        "trainers": [
            Trainer(id="t-1", name="Ma Lin", topics=["law"]),
            Trainer(id="t-2", name="Zhao Min", topics=["law"]),
            Trainer(id="t-3", name="Han Bo", topics=["economy"]),
        ],
        "units": [
            Unit(id="u-1", name="Chengzhong district", headcount=200),
            Unit(id="u-2", name="Huangzhong county", headcount=150),
        ],
        "cohorts": [
            Cohort(id="q-1", unit="u-1", size=20),
            Cohort(id="q-2", unit="u-2", size=18),
        ],
        "courses": [
            Course(id="c-1", name="Rule of law", sessions=2, topic="law", cohorts=["q-1"]),
            Course(id="c-2", name="Public finance", sessions=2, trainer="t-3", cohorts=["q-2"]),
            Course(id="c-3", name="Law for counties", sessions=1, topic="law", cohorts=["q-2"]),
        ],
    }
    return Problem(**{**fields, **overrides})


class FakeClock:
    """A clock a test moves by hand: `clock()` reads it, `advance()` moves it."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


def make_settings(database_url: str, outbox: Path, **overrides: Any) -> Settings:
    """Settings for tests: short solves with one worker, a 30 s debounce, a temporary outbox;
    never read from the environment or a .env file."""
    fields: dict[str, Any] = {
        "database_url": database_url,
        "solve_time_limit": 5.0,
        "solve_workers": 1,
        "repair_debounce_seconds": 30.0,
        "outbox_dir": outbox,
        "delivery_backoff_seconds": 10.0,
    }
    return Settings(_env_file=None, **{**fields, **overrides})


def import_and_publish(rt: Runtime, problem: Problem | None = None) -> int:
    """A plan holding `problem`, solved and published as version 1; returns the plan id."""
    with rt.sessions.begin() as session:
        plan_id = import_problem(session, problem or make_problem(), now=rt.clock()).id
        request_solve(session, plan_id, now=rt.clock(), requested_by="planner")
    (run_id,) = solve_pending_requests(rt)
    with rt.sessions.begin() as session:
        publish_run(session, run_id, now=rt.clock(), by="planner")
    return plan_id
