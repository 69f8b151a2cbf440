"""Sites: the entity routes, and closing a site for a while (which asks for a repair)."""

from __future__ import annotations

from api.dependencies import NowDep, PlanDep, PrincipalDep, SessionDep
from api.params import SiteKey
from api.routers.entities import entity_router
from api.schemas import WindowChange
from scheduler import plans
from solver.problem import Site

router = entity_router("site", Site, "sites")


@router.post("/{key}/closures", summary="Close a site for a while")
def close_site(
    plan: PlanDep,
    key: SiteKey,
    closure: WindowChange,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> Site:
    """Sessions there are moved by the next repair; the reason reaches the people moved."""
    return plans.close_site(
        session, plan.id, key, closure.window, reason=closure.reason, now=now, actor=principal.actor
    )
