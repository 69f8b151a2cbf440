"""The API's own request and response bodies (the plan's entities are the solver's models), and
the translations of scheduler rows into them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from api import examples
from api.bodies import INT_MAX, usable_calendar
from scheduler.briefing import UnitBriefing
from scheduler.runs import run_summary
from scheduler.tables import (
    ApiKey,
    Briefing,
    EventRecord,
    FeedToken,
    Notification,
    Plan,
    ScheduleVersion,
    SolveRequest,
    SolveRun,
    Subscription,
)
from solver.problem import Blackout, Calendar, DayRef, Pin, Window
from solver.solution import Unscheduled


def _examples(*values: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(values)})


# --- Plans ---------------------------------------------------------------------------------


class PlanOut(BaseModel):
    id: int
    name: str
    calendar: Calendar
    weights: dict[str, int]
    publish_policy: Literal["auto", "manual"]
    nightly_enabled: bool
    nightly_cron: str | None
    nightly_time_zone: str | None
    nightly_margin: float | None
    time_limit: float | None
    published_version: int | None = Field(description="The number of the published version.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(plan: Plan, published: int | None) -> PlanOut:
        return PlanOut(
            id=plan.id,
            name=plan.name,
            calendar=Calendar.model_validate(plan.calendar),
            weights=plan.weights,
            publish_policy=plan.publish_policy,
            nightly_enabled=plan.nightly_enabled,
            nightly_cron=plan.nightly_cron,
            nightly_time_zone=plan.nightly_time_zone,
            nightly_margin=plan.nightly_margin,
            time_limit=plan.time_limit,
            published_version=published,
            created_at=plan.created_at,
            updated_at=plan.updated_at,
        )


_NOT_NULL = ("name", "calendar", "weights", "publish_policy", "nightly_enabled")


class PlanChanges(BaseModel):
    """The plan's own settings to change; fields left out stay as they are. A null nightly_*
    or time_limit returns to the service's default."""

    model_config = _examples(
        {"publish_policy": "manual", "nightly_cron": "30 1 * * *", "time_limit": 120}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    calendar: Annotated[Calendar | None, AfterValidator(usable_calendar)] = None
    weights: dict[str, Annotated[int, Field(ge=0, le=INT_MAX)]] | None = Field(
        default=None, description="Soft-term weight overrides."
    )
    publish_policy: Literal["auto", "manual"] | None = None
    nightly_enabled: bool | None = None
    nightly_cron: str | None = Field(default=None, max_length=100)
    nightly_time_zone: str | None = Field(default=None, max_length=64)
    nightly_margin: float | None = Field(default=None, ge=0, lt=1)
    time_limit: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _not_null(self) -> PlanChanges:
        for name in _NOT_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class WindowChange(BaseModel):
    """A time something cannot be used, and why (shown to the people it concerns)."""

    model_config = _examples({"window": examples.WINDOW, "reason": "sick leave"})

    window: Window
    reason: str = Field(default="", max_length=2000)


class NumberedBlackout(BaseModel):
    id: int = Field(description="Address the blackout by this id.")
    blackout: Blackout


class NumberedPin(BaseModel):
    id: int = Field(description="Address the pin by this id.")
    pin: Pin


# --- Solving -------------------------------------------------------------------------------


class SolveRequestIn(BaseModel):
    """A solve for the worker. A draft waits for a planner to publish it; a what-if is never
    published. Mode repair starts from the published version and moves as little as it can."""

    model_config = _examples(
        {"purpose": "draft", "mode": "optimise", "time_limit": 30},
        {"purpose": "what_if", "mode": "repair", "seed": 7},
    )

    purpose: Literal["draft", "what_if"] = "draft"
    mode: Literal["optimise", "repair"] = "optimise"
    time_limit: float | None = Field(default=None, gt=0, le=3600, description="Seconds.")
    seed: int | None = Field(default=None, ge=0, le=INT_MAX)
    workers: int | None = Field(default=None, ge=1, le=64)


class RunOut(BaseModel):
    """A solve run as audited: its input's hash, parameters, result and what became of it."""

    id: int
    plan_id: int
    request_id: int | None
    mode: str
    purpose: str
    trigger: str
    worker: str
    status: str = Field(
        description="running, optimal, feasible, infeasible, unknown, invalid, failed."
    )
    outcome: str | None = Field(
        description="published, draft, what_if, stale, unchanged, kept, no_schedule."
    )
    input_hash: str
    seed: int
    params: dict[str, Any]
    objective: int | None
    bound: int | None
    gap: float | None
    breakdown: dict[str, int] | None
    error: str | None
    version_id: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_s: float | None
    sessions: int = Field(description="Sessions placed.")
    unscheduled: list[Unscheduled]
    conflicts: list[str]
    prechecks: list[str]

    @staticmethod
    def of(run: SolveRun) -> RunOut:
        solution = run.solution or {}
        return RunOut.model_validate(
            run_summary(run)
            | {
                "sessions": len(solution.get("placements", [])),
                "unscheduled": solution.get("unscheduled", []),
                "conflicts": solution.get("conflicts", []),
                "prechecks": solution.get("prechecks", []),
            }
        )


class SolveRequestOut(BaseModel):
    id: int
    plan_id: int
    purpose: str
    mode: str
    status: Literal["pending", "running", "cancelling", "done", "failed", "cancelled"]
    trigger: str
    requested_by: str | None
    attempts: int
    rerun_of: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    run: RunOut | None = Field(description="The latest run of this request.")

    @staticmethod
    def of(request: SolveRequest, run: SolveRun | None) -> SolveRequestOut:
        return SolveRequestOut(
            id=request.id,
            plan_id=request.plan_id,
            purpose=request.purpose,
            mode=request.mode,
            status=request.status,
            trigger=request.trigger,
            requested_by=request.requested_by,
            attempts=request.attempts,
            rerun_of=request.rerun_of,
            created_at=request.created_at,
            updated_at=request.updated_at,
            run=RunOut.of(run) if run is not None else None,
        )


# --- Versions and the schedule -------------------------------------------------------------


class PublishIn(BaseModel):
    """Publish a run's schedule as the plan's next version."""

    model_config = _examples({"run": 3}, {"run": 4, "force": True})

    run: int = Field(ge=1, le=INT_MAX, description="The run whose schedule to publish.")
    force: bool = Field(
        default=False, description="Publish even if the plan changed after the run started."
    )


class VersionSummary(BaseModel):
    plan_id: int
    number: int
    run_id: int | None
    status: str
    objective: int | None
    bound: int | None
    breakdown: dict[str, int]
    unscheduled: list[Unscheduled]
    trigger: str
    published_by: str | None
    published_at: dt.datetime

    @classmethod
    def fields_of(cls, version: ScheduleVersion) -> dict[str, Any]:
        return {
            "plan_id": version.plan_id,
            "number": version.number,
            "run_id": version.run_id,
            "status": version.status,
            "objective": version.objective,
            "bound": version.bound,
            "breakdown": version.breakdown,
            "unscheduled": version.unscheduled,
            "trigger": version.trigger,
            "published_by": version.published_by,
            "published_at": version.published_at,
        }

    @staticmethod
    def of(version: ScheduleVersion) -> VersionSummary:
        return VersionSummary.model_validate(VersionSummary.fields_of(version))


class VersionOut(VersionSummary):
    sessions: int
    changes: int = Field(description="Sessions added, moved or cancelled against the previous.")

    @staticmethod
    def of(version: ScheduleVersion) -> VersionOut:
        return VersionOut.model_validate(
            VersionSummary.fields_of(version)
            | {"sessions": len(version.sessions), "changes": len(version.changes)}
        )


class ScheduledSession(BaseModel):
    uid: str = Field(description="Stable across versions (the calendar event's UID).")
    sequence: int = Field(description="Raised each time the session changes.")
    course: str
    session: int
    title: str
    day: DayRef
    period: int
    length: int = Field(description="Periods.")
    starts_at: dt.datetime | None = Field(description="In the plan's time zone (real calendars).")
    ends_at: dt.datetime | None
    site: str
    trainer: str
    cohorts: list[str]
    units: list[str]


class SchedulePage(BaseModel):
    plan_id: int
    version: int
    published_at: dt.datetime
    time_zone: str
    total: int = Field(description="Sessions matching the filters.")
    offset: int
    limit: int
    next: str | None = Field(description="The next page's URL (relative), if any.")
    items: list[ScheduledSession]


# --- Feeds, subscriptions, notifications ---------------------------------------------------

FeedKind = Literal["plan", "trainer", "unit", "site", "cohort"]


class FeedIn(BaseModel):
    """A calendar feed for one subscriber: each gets its own token, revocable on its own."""

    model_config = _examples({"kind": "trainer", "id": "t-1"}, {"kind": "plan"})

    kind: FeedKind
    id: str | None = Field(
        default=None, min_length=1, max_length=200, description="The party; none for plan."
    )


class FeedOut(BaseModel):
    id: int
    plan_id: int
    kind: str
    party_id: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @staticmethod
    def of(row: FeedToken) -> FeedOut:
        return FeedOut(
            id=row.id,
            plan_id=row.plan_id,
            kind=row.party_kind,
            party_id=row.party_id,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


class FeedCreated(FeedOut):
    token: str = Field(description="Shown once; only its hash is kept.")
    url: str = Field(description="The subscription URL for calendar apps (no headers needed).")


class SubscriptionIn(BaseModel):
    """Where a party hears of changes to its sessions: a signed webhook or an email address.

    Webhook deliveries are POSTs of JSON signed with HMAC-SHA256 over "<timestamp>.<body>"
    (headers X-Offseason-Signature: sha256=<hex>, X-Offseason-Timestamp, Idempotency-Key).
    """

    model_config = _examples(
        {"channel": "webhook", "address": "https://example.org/offseason-hook"},
        {
            "channel": "email",
            "address": "office@example.org",
            "party_kind": "unit",
            "party_id": "u-1",
        },
    )

    channel: Literal["webhook", "email"]
    address: str = Field(min_length=3, max_length=2000)
    party_kind: Literal["plan", "trainer", "unit", "site"] = "plan"
    party_id: str | None = Field(default=None, min_length=1, max_length=200)
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="Webhook signing secret; a new one is made (and returned once) when left out.",
    )


class SubscriptionOut(BaseModel):
    id: int
    plan_id: int
    channel: str
    address: str
    party_kind: str
    party_id: str | None
    active: bool
    created_at: dt.datetime

    @staticmethod
    def of(row: Subscription) -> SubscriptionOut:
        return SubscriptionOut(
            id=row.id,
            plan_id=row.plan_id,
            channel=row.channel,
            address=row.address,
            party_kind=row.party_kind,
            party_id=row.party_id,
            active=row.active,
            created_at=row.created_at,
        )


class SubscriptionCreated(SubscriptionOut):
    secret: str | None = Field(description="The webhook signing secret, shown this once.")


class NotificationOut(BaseModel):
    id: int
    plan_id: int
    version_id: int | None
    kind: str
    party_kind: str
    party_id: str | None
    channel: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime

    @staticmethod
    def of(row: Notification) -> NotificationOut:
        return NotificationOut(
            id=row.id,
            plan_id=row.plan_id,
            version_id=row.version_id,
            kind=row.kind,
            party_kind=row.party_kind,
            party_id=row.party_id,
            channel=row.channel,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            last_error=row.last_error,
            created_at=row.created_at,
        )


# --- Briefings and events ------------------------------------------------------------------


class BriefingOut(BaseModel):
    id: int
    plan_id: int
    unit: str
    produced_at: dt.datetime
    briefing: UnitBriefing

    @staticmethod
    def of(row: Briefing) -> BriefingOut:
        return BriefingOut(
            id=row.id,
            plan_id=row.plan_id,
            unit=row.unit,
            produced_at=row.produced_at,
            briefing=UnitBriefing.model_validate(row.content),
        )


class EventOut(BaseModel):
    id: int
    name: str
    description: str
    payload: dict[str, Any]
    actor: str | None
    occurred_at: dt.datetime


# --- Access --------------------------------------------------------------------------------

RoleName = Literal["admin", "planner", "viewer"]


class ApiKeyIn(BaseModel):
    """A key for an API client. Viewers read; planners also change plans and solve; admins
    also manage keys. A key scoped to a plan sees that plan only."""

    model_config = _examples(
        {"name": "Chengzhong unit office", "role": "viewer", "plan_id": 1},
        {"name": "training office", "role": "planner"},
    )

    name: str = Field(min_length=1, max_length=200)
    role: RoleName
    plan_id: int | None = Field(default=None, ge=1, le=INT_MAX)


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    role: RoleName
    plan_id: int | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @staticmethod
    def of(row: ApiKey, role: RoleName, plan_id: int | None) -> ApiKeyOut:
        return ApiKeyOut(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            role=role,
            plan_id=plan_id,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(
        description="Shown once; only its hash is kept. Send it as "
        "`Authorization: Bearer <key>` or `X-API-Key: <key>`."
    )


class Me(BaseModel):
    key_id: int
    name: str
    role: RoleName
    plan_id: int | None


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    worker: Literal["embedded", "separate"]


def event_out(record: EventRecord, description: str) -> EventOut:
    return EventOut(
        id=record.id,
        name=record.name,
        description=description,
        payload=record.payload,
        actor=record.actor,
        occurred_at=record.occurred_at,
    )
