"""Trainers: the entity routes, and a trainer dropping out for a while (which asks for a
repair)."""

from __future__ import annotations

from api.dependencies import NowDep, PlanDep, PrincipalDep, SessionDep
from api.params import TrainerKey
from api.routers.entities import entity_router
from api.schemas import WindowChange
from scheduler import plans
from solver.problem import Trainer

router = entity_router("trainer", Trainer, "trainers")


@router.post("/{key}/unavailability", summary="A trainer drops out for a while")
def drop_out_trainer(
    plan: PlanDep,
    key: TrainerKey,
    absence: WindowChange,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> Trainer:
    """Their sessions in the window are moved (or given to another qualified trainer) by the
    next repair; the reason reaches the people concerned."""
    return plans.drop_out_trainer(
        session, plan.id, key, absence.window, reason=absence.reason, now=now, actor=principal.actor
    )
