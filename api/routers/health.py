"""Liveness and readiness: the process answers and its database does."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.dependencies import SessionDep, WiringDep
from api.errors import error_responses
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health", summary="Whether the API and its database answer", responses=error_responses(503)
)
def health(session: SessionDep, wiring: WiringDep) -> Health:
    session.execute(text("SELECT 1"))
    return Health(
        status="ok",
        database=wiring.engine.dialect.name,
        worker="embedded" if wiring.worker is not None else "separate",
    )
