"""The database tables: a plan's data, solve requests and runs, versions, events and delivery.

Entity rows mirror `solver.problem` (nested lists as JSON); `scheduler.conversion` turns them
into a `Problem` and back. Days are stored as text: an ISO date, or a day number on abstract
grids. Timestamps are stored in UTC and read back timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one (UTC)")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dt.datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def _plan_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)


# --- A plan and its entities ---------------------------------------------------------------


class Plan(Base):
    """One schedule problem: its calendar, weights and the policies of its automatic runs."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    calendar: Mapped[dict[str, Any]]
    weights: Mapped[dict[str, Any]]
    publish_policy: Mapped[str] = mapped_column(String(20), default="auto")
    nightly_enabled: Mapped[bool] = mapped_column(default=True)
    nightly_cron: Mapped[str | None] = mapped_column(String(100))
    nightly_time_zone: Mapped[str | None] = mapped_column(String(64))
    nightly_margin: Mapped[float | None] = mapped_column(Float)
    time_limit: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class SiteRow(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    capacity: Mapped[int]
    capacity_hard: Mapped[bool]
    kind: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(Text)
    open: Mapped[list[Any]]
    closures: Mapped[list[Any]]


class TrainerRow(Base):
    __tablename__ = "trainers"
    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    topics: Mapped[list[Any]]
    unavailable: Mapped[list[Any]]
    max_sessions_per_week: Mapped[int | None]
    max_sessions_per_month: Mapped[int | None]


class UnitRow(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    headcount: Mapped[int]
    away_cap: Mapped[float | None] = mapped_column(Float)


class CohortRow(Base):
    __tablename__ = "cohorts"
    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(200))
    size: Mapped[int]


class CourseRow(Base):
    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    sessions: Mapped[int]
    length: Mapped[int]
    pattern: Mapped[str] = mapped_column(String(20))
    min_days: Mapped[int | None]
    trainer: Mapped[str | None] = mapped_column(String(200))
    topic: Mapped[str | None] = mapped_column(Text)
    cohorts: Mapped[list[Any]]
    attendance: Mapped[int | None]
    earliest: Mapped[str | None] = mapped_column(String(10))
    latest: Mapped[str | None] = mapped_column(String(10))
    sites: Mapped[list[Any]]
    preferred_sites: Mapped[list[Any]]
    priority: Mapped[int]
    required: Mapped[bool]


class BlackoutRow(Base):
    """A blackout; its `key` may be empty, so rows are addressed by `id`."""

    __tablename__ = "blackouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
    scope: Mapped[str] = mapped_column(String(20))
    target: Mapped[str | None] = mapped_column(String(200))
    window: Mapped[dict[str, Any]]
    hard: Mapped[bool]
    weight: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text)


class PinRow(Base):
    __tablename__ = "pins"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    position: Mapped[int]
    course: Mapped[str] = mapped_column(String(200))
    day: Mapped[str] = mapped_column(String(10))
    period: Mapped[int]
    site: Mapped[str | None] = mapped_column(String(200))
    trainer: Mapped[str | None] = mapped_column(String(200))


# --- Solving -------------------------------------------------------------------------------


class SolveRequest(Base):
    """Work for a worker: solve this plan once `due_at` has passed.

    `purpose` decides what happens to the result: "repair" and "nightly" may publish on
    their own (per the plan's policy), "draft" waits for a planner, "what_if" never publishes.
    """

    __tablename__ = "solve_requests"
    __table_args__ = (Index("ix_solve_requests_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    mode: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    rerun_of: Mapped[int | None]
    seed: Mapped[int | None]
    time_limit: Mapped[float | None] = mapped_column(Float)
    workers: Mapped[int | None]
    created_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class SolveRun(Base):
    """One solve, audited: its exact input, parameters, result, and who or what asked."""

    __tablename__ = "solve_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("solve_requests.id", ondelete="SET NULL"), index=True
    )
    mode: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(Text)
    worker: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    input: Mapped[dict[str, Any]]
    input_hash: Mapped[str] = mapped_column(String(64))
    last_event_id: Mapped[int]
    seed: Mapped[int]
    params: Mapped[dict[str, Any]]
    policy: Mapped[dict[str, Any]]
    weights: Mapped[dict[str, Any]]
    objective: Mapped[int | None]
    bound: Mapped[int | None]
    gap: Mapped[float | None] = mapped_column(Float)
    breakdown: Mapped[dict[str, Any] | None]
    solution: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    version_id: Mapped[int | None]
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)


class PlanLease(Base):
    """Who works on a plan now: the SQLite stand-in for a PostgreSQL advisory lock."""

    __tablename__ = "plan_leases"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime]


# --- Versions ------------------------------------------------------------------------------


class ScheduleVersion(Base):
    """An immutable published schedule of a plan, numbered 1, 2, ... per plan."""

    __tablename__ = "schedule_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    number: Mapped[int]
    run_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20))
    objective: Mapped[int | None]
    bound: Mapped[int | None]
    breakdown: Mapped[dict[str, Any]]
    unscheduled: Mapped[list[Any]]
    trigger: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[dt.datetime]
    last_event_id: Mapped[int]

    sessions: Mapped[list[VersionSession]] = relationship(
        cascade="all, delete-orphan", order_by="(VersionSession.course, VersionSession.session)"
    )
    changes: Mapped[list[VersionChange]] = relationship(
        cascade="all, delete-orphan", order_by="VersionChange.id"
    )


class VersionSession(Base):
    """A session of a version. `uid` follows a session across versions; `sequence` counts its
    changes (what iCalendar's UID and SEQUENCE need)."""

    __tablename__ = "version_sessions"
    __table_args__ = (UniqueConstraint("version_id", "course", "session"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_versions.id", ondelete="CASCADE"), index=True
    )
    course: Mapped[str] = mapped_column(String(200))
    session: Mapped[int]
    day: Mapped[str] = mapped_column(String(10))
    day_index: Mapped[int]
    period: Mapped[int]
    length: Mapped[int]
    site: Mapped[str] = mapped_column(String(200))
    trainer: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    cohorts: Mapped[list[Any]]
    units: Mapped[list[Any]]
    uid: Mapped[str] = mapped_column(String(100))
    sequence: Mapped[int]


class VersionChange(Base):
    """A session added, moved or cancelled by a version, relative to the one before, and why."""

    __tablename__ = "version_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_versions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    uid: Mapped[str] = mapped_column(String(100), index=True)
    sequence: Mapped[int]
    course: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    length: Mapped[int]
    cohorts: Mapped[list[Any]]
    units: Mapped[list[Any]]
    old_day: Mapped[str | None] = mapped_column(String(10))
    old_period: Mapped[int | None]
    old_site: Mapped[str | None] = mapped_column(String(200))
    old_trainer: Mapped[str | None] = mapped_column(String(200))
    new_day: Mapped[str | None] = mapped_column(String(10))
    new_period: Mapped[int | None]
    new_site: Mapped[str | None] = mapped_column(String(200))
    new_trainer: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[int | None]


# --- Events and delivery -------------------------------------------------------------------


class EventRecord(Base):
    """A domain event as stored: its class name and fields, in the order they happened."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    actor: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[dt.datetime]


class Subscription(Base):
    """How a party (a trainer, unit or site; or "plan" for every change) wants to hear."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    party_kind: Mapped[str] = mapped_column(String(20))
    party_id: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]


class Notification(Base):
    """The transactional outbox: written with the version, delivered after commit."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    version_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(30))
    party_kind: Mapped[str] = mapped_column(String(20))
    party_id: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(Text)
    subscription_id: Mapped[int | None]
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    claimed_until: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class FeedToken(Base):
    """A secret in a calendar-feed URL; only its hash is kept."""

    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    party_kind: Mapped[str] = mapped_column(String(20))
    party_id: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class ApiKey(Base):
    """An API client's key; only its hash and a display prefix are kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class Briefing(Base):
    """A unit's digest as produced at one moment (kept so it can be shown again)."""

    __tablename__ = "briefings"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = _plan_fk()
    unit: Mapped[str] = mapped_column(String(200))
    produced_at: Mapped[dt.datetime]
    content: Mapped[dict[str, Any]]
