"""One worker acts on a plan at a time: a PostgreSQL advisory lock, or on SQLite a lease row.

An advisory lock dies with its connection, so a killed worker frees its plans at once. A lease
held by a process of this host lasts as long as the process (a restarted worker need not wait);
one held from another host lasts until it expires.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduler.tables import PlanLease

# The schema is part of the key, so that plans of databases in different schemas never collide.
_TRY_LOCK = text("SELECT pg_try_advisory_lock(hashtext(current_schema()), :plan)")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtext(current_schema()), :plan)")


@contextmanager
def plan_lock(
    engine: Engine, plan_id: int, *, holder: str, now: dt.datetime, ttl: dt.timedelta
) -> Iterator[bool]:
    """Try to take the plan; yields whether this holder has it (it never waits)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            got = bool(connection.scalar(_TRY_LOCK, {"plan": plan_id}))
            connection.commit()  # the lock is the connection's, not the transaction's
            try:
                yield got
            finally:
                if got:
                    connection.execute(_UNLOCK, {"plan": plan_id})
                    connection.commit()
        return
    got = take_lease(engine, plan_id, holder=holder, now=now, ttl=ttl)
    try:
        yield got
    finally:
        if got:
            release_lease(engine, plan_id, holder=holder)


def take_lease(
    engine: Engine, plan_id: int, *, holder: str, now: dt.datetime, ttl: dt.timedelta
) -> bool:
    with Session(engine) as session, session.begin():
        lease = session.scalar(select(PlanLease).where(PlanLease.plan_id == plan_id))
        if lease is None:
            session.add(PlanLease(plan_id=plan_id, holder=holder, expires_at=now + ttl))
            try:
                session.flush()
            except IntegrityError:
                return False
            return True
        alive = holder_alive(lease.holder)
        if lease.holder != holder and (alive or (alive is None and lease.expires_at > now)):
            return False
        taken = session.execute(
            update(PlanLease)
            .where(PlanLease.plan_id == plan_id, PlanLease.holder == lease.holder)
            .values(holder=holder, expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
        return taken.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def release_lease(engine: Engine, plan_id: int, *, holder: str) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            delete(PlanLease).where(PlanLease.plan_id == plan_id, PlanLease.holder == holder)
        )


def holder_alive(holder: str) -> bool | None:
    """Whether the holder's process still runs; None when it is on another host (then only
    the lease's expiry tells)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
