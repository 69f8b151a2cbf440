"""Units: the entity routes (their briefings are in `api.routers.briefings`)."""

from __future__ import annotations

from api.routers.entities import entity_router
from solver.problem import Unit

router = entity_router("unit", Unit, "units")
