"""Pins: a session of a course fixed by a planner at a time (and maybe a site and trainer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import AfterValidator

from api.bodies import storable
from api.dependencies import NowDep, PlanDep, PrincipalDep, SessionDep
from api.errors import error_responses
from api.examples import PIN, one
from api.params import PinId
from api.schemas import NumberedPin
from scheduler import plans
from solver.problem import Pin

router = APIRouter(
    prefix="/plans/{plan_id}/pins",
    tags=["pins"],
    responses=error_responses(401, 403, 404, 422),
)


@router.get("", summary="The plan's pinned sessions")
def list_pins(plan: PlanDep, session: SessionDep) -> list[NumberedPin]:
    return [NumberedPin(id=n.id, pin=n.item) for n in plans.list_pins(session, plan.id)]


@router.post("", status_code=201, summary="Pin a session")
def pin_session(
    plan: PlanDep,
    pin: Annotated[
        Pin,
        Body(openapi_examples=one("a session fixed on a morning", PIN)),
        AfterValidator(storable),
    ],
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> NumberedPin:
    added = plans.pin_session(session, plan.id, pin, now=now, actor=principal.actor)
    return NumberedPin(id=added.id, pin=pin)


@router.delete("/{pin_id}", status_code=204, summary="Remove a pin")
def remove_pin(
    plan: PlanDep, pin_id: PinId, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> None:
    plans.remove_pin(session, plan.id, pin_id, now=now, actor=principal.actor)
