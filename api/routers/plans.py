"""Plans: import a whole problem file as a new plan, read and change its settings, export it
(with its published schedule as `previous`), delete it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import AfterValidator
from sqlalchemy.orm import Session

from api.access import Principal
from api.bodies import usable_problem
from api.dependencies import AdminDep, NowDep, PlanDep, PrincipalDep, SessionDep, WiringDep
from api.errors import ApiError, error_responses
from api.examples import PROBLEM, one
from api.schemas import PlanChanges, PlanOut
from scheduler import plans
from scheduler.api_keys import list_api_keys, revoke_api_key
from scheduler.tables import Plan
from scheduler.versions import latest_version
from solver.problem import Problem

router = APIRouter(prefix="/plans", tags=["plans"], responses=error_responses(401, 403, 422))
ProblemBody = Annotated[
    Problem,
    Body(openapi_examples=one("a two-week spring programme", PROBLEM)),
    AfterValidator(usable_problem),
]


def plan_out(session: Session, plan: Plan) -> PlanOut:
    latest = latest_version(session, plan.id)
    return PlanOut.of(plan, latest.number if latest else None)


@router.get("", summary="The plans this key may read")
def list_plans(session: SessionDep, principal: PrincipalDep) -> list[PlanOut]:
    return [plan_out(session, p) for p in plans.list_plans(session) if principal.sees(p.id)]


@router.post(
    "",
    status_code=201,
    summary="Import a whole problem file as a new plan",
    responses=error_responses(413),
)
def import_plan(
    problem: ProblemBody,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    publish_policy: Annotated[
        Literal["auto", "manual"], Query(description="Whether repairs publish on their own.")
    ] = "auto",
) -> PlanOut:
    """The solver's JSON format (`offseason schema`); its `previous` schedule, if given, is
    published as version 1."""
    principal.require("planner")
    if principal.plan_id is not None:
        raise ApiError(403, "a key scoped to one plan cannot create plans", kind="forbidden")
    plan = plans.import_problem(
        session, problem, now=now, actor=principal.actor, publish_policy=publish_policy
    )
    response.headers["Location"] = f"/plans/{plan.id}"
    return plan_out(session, plan)


@router.get("/{plan_id}", responses=error_responses(404))
def read_plan(plan: PlanDep, session: SessionDep) -> PlanOut:
    return plan_out(session, plan)


@router.patch("/{plan_id}", responses=error_responses(404), summary="Change the plan's settings")
def change_plan(
    plan: PlanDep, changes: PlanChanges, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> PlanOut:
    """A new calendar or new weights ask for a repair of the published schedule."""
    values = changes.model_dump(exclude_unset=True)
    plans.update_plan(session, plan.id, now=now, actor=principal.actor, **values)
    return plan_out(session, plan)


@router.delete("/{plan_id}", status_code=204, responses=error_responses(404))
def delete_plan(
    plan: PlanDep, session: SessionDep, admin: AdminDep, wiring: WiringDep, now: NowDep
) -> None:
    """Everything of the plan goes, and the keys scoped to it are revoked."""
    scoped = [
        key.id
        for key in list_api_keys(session)
        if key.revoked_at is None and Principal.of(key.id, key.name, key.role).plan_id == plan.id
    ]
    for key_id in scoped:
        revoke_api_key(session, key_id, now=now)
    wiring.keys.forget(lambda principal: principal is not None and principal.key_id in scoped)
    plans.delete_plan(session, plan.id)


@router.get(
    "/{plan_id}/problem",
    responses=error_responses(404),
    summary="Export the plan as a problem file",
)
def export_plan(plan: PlanDep, session: SessionDep) -> Problem:
    """The solver's JSON format, with the published schedule as `previous` (import it again
    with POST /plans, or solve it with `offseason solve`)."""
    return plans.export_problem(session, plan.id)
