"""Cohorts: the entity routes (PATCH {"size": n} records the cohort as resized)."""

from __future__ import annotations

from api.routers.entities import entity_router
from solver.problem import Cohort

router = entity_router("cohort", Cohort, "cohorts")
