"""Storage: migrations from an empty database, and a whole problem in and out unchanged."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from scheduler import runs, versions
from scheduler.database import current_revision, downgrade, make_engine, upgrade
from scheduler.plans import export_problem, import_problem
from scheduler.runtime import Runtime
from scheduler.tables import Base
from solver.problem import Blackout, Pin, Placement, Trainer, Window
from solver.solution import Solution
from tests.scheduler.factories import MONDAY, import_and_publish, make_problem

NOW = dt.datetime(2027, 2, 1, 9, tzinfo=dt.UTC)


def test_migrations_build_the_models_schema_from_empty(db_url: str) -> None:
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) is not None
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()
    upgrade(db_url)  # a second upgrade is a no-op
    downgrade(db_url, "base")
    engine = make_engine(db_url)
    try:
        assert not set(inspect(engine).get_table_names()) & set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_a_problem_comes_back_identical(sessions: sessionmaker[Session]) -> None:
    problem = make_problem(
        trainers=[
            Trainer(
                id="t-1",
                topics=["law", "ethics"],
                unavailable=[Window(first=MONDAY, last=MONDAY, periods=[1], reason="court")],
                max_sessions_per_week=3,
            ),
            *make_problem().trainers[1:],
        ],
        blackouts=[
            Blackout(scope="unit", target="u-1", window=Window(first=MONDAY, last=MONDAY)),
            Blackout(
                id="harvest",
                scope="plan",
                window=Window(first=MONDAY, last=MONDAY + dt.timedelta(days=1)),
                hard=False,
                weight=7,
                reason="harvest",
            ),
        ],
        pins=[Pin(course="c-3", day=MONDAY + dt.timedelta(days=2), period=1, site="s-2")],
        weights={"compactness": 3},
        previous=[
            Placement(course="c-1", session=0, day=MONDAY, period=0, site="s-1", trainer="t-2"),
            Placement(course="c-1", session=1, day=MONDAY, period=1, site="s-1", trainer="t-2"),
        ],
    )
    with sessions.begin() as session:
        plan_id = import_problem(session, problem, now=NOW).id
    with sessions.begin() as session:
        assert export_problem(session, plan_id) == problem


def test_a_solved_schedule_comes_back_identical(rt: Runtime) -> None:
    plan_id = import_and_publish(rt)
    with rt.sessions.begin() as session:
        (run,) = runs.list_runs(session, plan_id)
        assert run.solution is not None
        solution = Solution.model_validate(run.solution)
        version = versions.latest_version(session, plan_id)
        assert version is not None
        assert (version.status, version.objective, version.bound, version.breakdown) == (
            solution.status,
            solution.objective,
            solution.bound,
            solution.breakdown,
        )
        stored = versions.published_placements(session, plan_id)
        assert stored is not None

        def key(p: Placement) -> tuple[str, int]:
            return (p.course, p.session)

        assert sorted(stored, key=key) == sorted(solution.placements, key=key)
        assert export_problem(session, plan_id).previous == stored
