"""Blackouts: times a unit, cohort, site, trainer, course or the whole plan may not (hard) or
should not (soft) be trained; addressed by number, since their own ids may be empty."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import AfterValidator

from api.bodies import storable
from api.dependencies import NowDep, PlanDep, PrincipalDep, SessionDep
from api.errors import error_responses
from api.examples import BLACKOUT, one
from api.params import BlackoutId
from api.schemas import NumberedBlackout
from scheduler import plans
from solver.problem import Blackout

router = APIRouter(
    prefix="/plans/{plan_id}/blackouts",
    tags=["blackouts"],
    responses=error_responses(401, 403, 404, 422),
)


@router.get("", summary="The plan's blackouts")
def list_blackouts(plan: PlanDep, session: SessionDep) -> list[NumberedBlackout]:
    return [
        NumberedBlackout(id=n.id, blackout=n.item) for n in plans.list_blackouts(session, plan.id)
    ]


@router.post("", status_code=201, summary="Add a blackout")
def add_blackout(
    plan: PlanDep,
    blackout: Annotated[
        Blackout,
        Body(openapi_examples=one("a unit's key season", BLACKOUT)),
        AfterValidator(storable),
    ],
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> NumberedBlackout:
    added = plans.add_blackout(session, plan.id, blackout, now=now, actor=principal.actor)
    return NumberedBlackout(id=added.id, blackout=blackout)


@router.delete("/{blackout_id}", status_code=204, summary="Remove a blackout")
def remove_blackout(
    plan: PlanDep,
    blackout_id: BlackoutId,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> None:
    plans.remove_blackout(session, plan.id, blackout_id, now=now, actor=principal.actor)
