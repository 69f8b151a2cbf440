"""Versions: publishing a run's schedule, the immutable published versions, their changes and
explanations, and diffs between any two."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from api.bodies import INT_MAX
from api.conditional import Representation, conditional_response
from api.dependencies import NowDep, PlanDep, PrincipalDep, SessionDep, SettingsDep, WiringDep
from api.errors import NOT_MODIFIED, ApiError, error_responses
from api.explanations import Explanation, explain_schedule
from api.params import VersionNumber as Number
from api.published import published_version
from api.schemas import PublishIn, VersionOut, VersionSummary
from scheduler import runs, versions
from scheduler.conversion import placements_from_rows
from scheduler.events import last_event_id
from scheduler.plans import load_problem
from scheduler.tables import Plan, ScheduleVersion
from scheduler.versions import SessionChange, VersionDiff
from solver.problem import Weights
from solver.solution import RepairPolicy, Unscheduled

router = APIRouter(
    prefix="/plans/{plan_id}", tags=["versions"], responses=error_responses(401, 403, 404, 422)
)


@router.post(
    "/versions", status_code=201, summary="Publish a run's schedule", responses=error_responses(409)
)
def publish(
    plan: PlanDep,
    asked: PublishIn,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> VersionOut:
    """Refused (409) for what-ifs, runs without a schedule, and (unless forced) runs older
    than the plan's latest change. Subscribers whose sessions changed are notified."""
    if runs.get_run(session, asked.run).plan_id != plan.id:
        raise ApiError(422, f"run {asked.run} is not a run of plan {plan.id}", kind="validation")
    version = runs.publish_run(session, asked.run, now=now, by=principal.actor, force=asked.force)
    response.headers["Location"] = f"/plans/{plan.id}/versions/{version.number}"
    return VersionOut.of(version)


@router.get("/versions", summary="The published versions, newest first")
def list_versions(plan: PlanDep, session: SessionDep) -> list[VersionSummary]:
    return [VersionSummary.of(v) for v in versions.list_versions(session, plan.id)]


@router.get("/versions/{number}", summary="One version")
def read_version(plan: PlanDep, number: Number, session: SessionDep) -> VersionOut:
    return VersionOut.of(versions.get_version(session, plan.id, number))


@router.get("/versions/{number}/changes", summary="What the version changed, and why")
def version_changes(plan: PlanDep, number: Number, session: SessionDep) -> list[SessionChange]:
    return versions.version_changes(versions.get_version(session, plan.id, number))


@router.get("/diff", summary="The differences between two versions")
def diff(
    plan: PlanDep,
    session: SessionDep,
    first: Annotated[
        int | None,
        Query(alias="from", ge=1, le=INT_MAX, description="Default: the version before `to`."),
    ] = None,
    last: Annotated[
        int | None,
        Query(alias="to", ge=1, le=INT_MAX, description="Default: the published version."),
    ] = None,
) -> VersionDiff:
    """Sessions added, moved and cancelled from `from` to `to`, each with its reason."""
    to = last if last is not None else published_version(session, plan).number
    since = first if first is not None else to - 1
    if since < 1:
        raise ApiError(422, "from: there is no version before version 1", kind="validation")
    return versions.diff_versions(session, plan.id, since, to)


@router.get(
    "/versions/{number}/explanation",
    response_model=Explanation,
    responses=NOT_MODIFIED,
    summary="Why the version costs what it costs",
)
def explain_version(
    plan: PlanDep,
    number: Number,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    wiring: WiringDep,
) -> Response:
    """The score by term; for each session the soft terms it pays; why each course left out
    is out. Scored with the input its run solved (an imported version: today's data)."""
    version = versions.get_version(session, plan.id, number)
    key = ("explanation", version.id, None if version.run_id else last_event_id(session, plan.id))

    def render() -> Representation:
        explained = explanation_of(session, plan, version, settings.default_weights)
        return Representation.of(
            explained.model_dump_json().encode(), "application/json", version.published_at
        )

    return conditional_response(request, wiring.representations.get_or_make(key, render))


def explanation_of(
    session: Session, plan: Plan, version: ScheduleVersion, default_weights: dict[str, int]
) -> Explanation:
    if version.run_id is not None:
        problem, weights, _, policy = runs.recorded_input(runs.get_run(session, version.run_id))
    else:
        problem = load_problem(session, plan.id)
        weights, policy = Weights.resolve(default_weights, problem.weights), RepairPolicy()
    return explain_schedule(
        problem,
        placements_from_rows(version.sessions),
        weights,
        policy,
        status=version.status,
        bound=version.bound,
        uids={(r.course, r.session): r.uid for r in version.sessions},
        unscheduled=[Unscheduled.model_validate(u) for u in version.unscheduled],
    )
