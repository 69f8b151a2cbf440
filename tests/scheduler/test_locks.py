"""One worker per plan: the PostgreSQL advisory lock or the SQLite lease refuses a second
holder, and a holder that died frees the plan."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from sqlalchemy.orm import Session, sessionmaker

from scheduler.locks import holder_alive, plan_lock, release_lease, take_lease
from scheduler.plans import import_problem
from scheduler.runtime import worker_name
from tests.scheduler.factories import make_problem

NOW = dt.datetime(2027, 2, 1, 9, tzinfo=dt.UTC)
TTL = dt.timedelta(minutes=5)


def test_a_plan_has_one_holder_at_a_time(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan_id = import_problem(session, make_problem(), now=NOW).id
        other_plan = import_problem(session, make_problem(), now=NOW).id
    engine = sessions.kw["bind"]
    me, you = worker_name(), worker_name()
    with plan_lock(engine, plan_id, holder=me, now=NOW, ttl=TTL) as mine:
        assert mine
        with plan_lock(engine, plan_id, holder=you, now=NOW, ttl=TTL) as yours:
            assert not yours
        with plan_lock(engine, other_plan, holder=you, now=NOW, ttl=TTL) as other:
            assert other
    with plan_lock(engine, plan_id, holder=you, now=NOW, ttl=TTL) as yours:
        assert yours  # released


def test_a_lease_of_a_dead_process_or_past_its_expiry_is_free(
    sessions: sessionmaker[Session],
) -> None:
    engine = sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        return  # advisory locks die with their connection; nothing to expire
    with sessions.begin() as session:
        plan_id = import_problem(session, make_problem(), now=NOW).id
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = worker_name().split(":")[0]
    ghost = f"{host}:{dead.stdout.strip()}:gone"
    assert holder_alive(ghost) is False and holder_alive(worker_name()) is True
    assert holder_alive("another-host:1:x") is None
    me, you, elsewhere = worker_name(), worker_name(), "another-host:1:x"
    assert take_lease(engine, plan_id, holder=ghost, now=NOW, ttl=TTL)
    assert take_lease(engine, plan_id, holder=me, now=NOW, ttl=TTL)  # the ghost is dead
    # A live holder of this host keeps the plan even past the expiry (a long solve).
    assert not take_lease(engine, plan_id, holder=you, now=NOW + TTL * 2, ttl=TTL)
    release_lease(engine, plan_id, holder=me)
    assert take_lease(engine, plan_id, holder=elsewhere, now=NOW, ttl=TTL)
    # A holder on another host cannot be checked: its lease lasts until it expires.
    assert not take_lease(engine, plan_id, holder=me, now=NOW + TTL / 2, ttl=TTL)
    assert take_lease(engine, plan_id, holder=me, now=NOW + TTL * 2, ttl=TTL)
