"""Courses: the entity routes; removing a course cancels it (with its pins and blackouts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.dependencies import NowDep, PlanDep, PrincipalDep, SessionDep
from api.params import CourseKey
from api.routers.entities import entity_router
from scheduler import plans
from solver.problem import Course

router = entity_router("course", Course, "courses", removable=False)


@router.delete("/{key}", status_code=204, summary="Cancel a course")
def cancel_course(
    plan: PlanDep,
    key: CourseKey,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    reason: Annotated[str, Query(max_length=2000, description="Shown to those concerned.")] = "",
) -> None:
    """Its sessions are cancelled by the next repair (calendars show them as cancelled)."""
    plans.cancel_course(session, plan.id, key, reason=reason, now=now, actor=principal.actor)
