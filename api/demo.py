"""The demo: a fresh database holding the S plan (a city's year), solved, published, with a
planner's key and a trainer's feed to try. Used by `offseason demo` and the load benchmark."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from api.access import issue_key
from scheduler.clock import Clock, utc_now
from scheduler.database import make_engine, make_sessions, upgrade
from scheduler.feeds import create_feed_token
from scheduler.plans import import_problem
from scheduler.runs import finish_run, publish_run, start_run
from scheduler.solve_requests import request_solve
from solver.scenarios import generate
from solver.solve import ProgressFn, solve

if TYPE_CHECKING:
    from config.settings import Settings


class DemoFailed(RuntimeError):
    """The demo's solve found no schedule to publish."""


@dataclass(frozen=True)
class Demo:
    plan_id: int
    version: int
    status: str
    objective: int | None
    sessions: int
    unscheduled: int
    seconds: float
    api_key: str
    trainer: str
    unit: str
    feed_token: str


def sqlite_file(workdir: Path) -> Path:
    return workdir / "offseason.db"


def fresh_database(workdir: Path) -> str:
    """An empty SQLite file in `workdir` (any earlier demo's is removed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = sqlite_file(workdir)
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)
    return f"sqlite:///{db}"


def build_demo(
    settings: Settings,
    *,
    seed: int = 1,
    time_limit: float = 30.0,
    progress: ProgressFn | None = None,
    clock: Clock = utc_now,
) -> Demo:
    """Generate, import, solve (as the worker would, with progress reports), publish; then
    issue a planner's key and a feed for the trainer with the most sessions."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessions(engine)
    try:
        with sessions.begin() as session:
            plan = import_problem(session, generate("S", seed).problem, now=clock(), actor="demo")
            request = request_solve(
                session,
                plan.id,
                now=clock(),
                requested_by="demo",
                time_limit=time_limit,
                seed=seed,
            )
        with sessions.begin() as session:
            run = start_run(session, request.id, now=clock(), worker="demo", settings=settings)
        assert run is not None
        started = time.monotonic()
        solution = solve(run.problem, run.weights, run.params, run.policy, progress=progress)
        seconds = time.monotonic() - started
        with sessions.begin() as session:
            finish_run(
                session, run.run_id, solution, now=clock(), duration=seconds, settings=settings
            )
        if solution.status not in ("optimal", "feasible"):
            raise DemoFailed(f"the solve ended {solution.status}: {'; '.join(solution.conflicts)}")
        with sessions.begin() as session:
            version = publish_run(session, run.run_id, now=clock(), by="demo")
            trainer = Counter(r.trainer for r in version.sessions).most_common(1)[0][0]
            unit = Counter(u for r in version.sessions for u in r.units).most_common(1)[0][0]
            _, key = issue_key(session, "demo planner", "planner", None, now=clock())
            _, token = create_feed_token(session, plan.id, "trainer", trainer, now=clock())
            return Demo(
                plan_id=plan.id,
                version=version.number,
                status=solution.status,
                objective=solution.objective,
                sessions=len(solution.placements),
                unscheduled=len(solution.unscheduled),
                seconds=seconds,
                api_key=key,
                trainer=trainer,
                unit=unit,
                feed_token=token,
            )
    finally:
        engine.dispose()
