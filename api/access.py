"""Who may do what: API-key roles (admin, planner, viewer), optionally scoped to one plan.

A key's grant is stored in its `role` column as "planner" or "planner@7" (scoped to plan 7);
the scheduler's older role names read/write mean viewer/planner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from api.errors import ApiError
from scheduler.api_keys import create_api_key
from scheduler.tables import ApiKey

Role = Literal["admin", "planner", "viewer"]
RANK: dict[str, int] = {"viewer": 1, "planner": 2, "admin": 3}
_OLD_NAMES = {"read": "viewer", "write": "planner"}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def grant_text(role: Role, plan_id: int | None) -> str:
    return role if plan_id is None else f"{role}@{plan_id}"


def issue_key(
    session: Session, name: str, role: Role, plan_id: int | None, *, now: dt.datetime
) -> tuple[ApiKey, str]:
    """A new key with its grant: the row, and the key in clear (shown once)."""
    grant: Any = grant_text(role, plan_id)
    return create_api_key(session, name, role=grant, now=now)


@dataclass(frozen=True)
class Principal:
    """An authenticated API client: its key, role and the one plan it may touch (if scoped)."""

    key_id: int
    name: str
    role: Role
    plan_id: int | None = None

    @staticmethod
    def of(key_id: int, name: str, grant: str) -> Principal:
        role, _, plan = grant.partition("@")
        role = _OLD_NAMES.get(role, role)
        if role not in RANK or (plan and not plan.isdigit()):
            raise ApiError(403, "this key has no valid role", kind="forbidden")
        return Principal(key_id, name, role, int(plan) if plan else None)  # type: ignore[arg-type]

    @property
    def actor(self) -> str:
        """How the key appears in the plan's event log (never the key itself)."""
        return f"api-key {self.key_id} ({self.name})"

    def sees(self, plan_id: int) -> bool:
        return self.plan_id is None or self.plan_id == plan_id

    def require(self, role: Role) -> None:
        if RANK[self.role] < RANK[role]:
            raise ApiError(
                403, f"this needs the {role} role; the key is a {self.role}", kind="forbidden"
            )

    def check_plan(self, plan_id: int, method: str) -> None:
        """Viewers only read; a scoped key touches only its own plan."""
        if self.plan_id is not None and self.plan_id != plan_id:
            raise ApiError(403, f"this key is for plan {self.plan_id} only", kind="forbidden")
        self.require("viewer" if method in READ_METHODS else "planner")
