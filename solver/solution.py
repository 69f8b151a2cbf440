"""What a solve returns and what the checker finds: placements, score, bound, explanation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from solver.problem import DayRef, Placement, Weights


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RepairPolicy(_Model):
    """How a new schedule treats the previous one: what is frozen, what moving costs.

    Sessions of the previous schedule on days before `now + freeze_days` (calendar days; working
    days on abstract grids) never move. Moving any other session costs the perturbation weight
    times a multiplier that ramps from 1 (`near_days` or more ahead) to 10 (today).
    """

    now: DayRef | None = None
    freeze_days: int = Field(default=14, ge=0)
    near_days: int = Field(default=56, ge=1)


class Violation(_Model):
    """A broken hard rule, said so a planner understands it."""

    rule: str
    message: str


class Cost(_Model):
    """One soft cost paid by the schedule, and what pays it."""

    term: str
    cost: int
    message: str
    course: str | None = None
    session: int | None = None
    # A cost of the whole plan or of a unit or trainer (load peak, density, trainer load): the
    # courses whose sessions together make it, which a planner would move to lower it.
    courses: list[str] = Field(default_factory=list)


class CheckResult(_Model):
    """The checker's verdict: hard violations, soft costs by term, and their total."""

    violations: list[Violation]
    breakdown: dict[str, int]
    objective: int
    costs: list[Cost]

    @property
    def feasible(self) -> bool:
        return not self.violations


class Unscheduled(_Model):
    course: str
    reason: str


SolveStatus = Literal["optimal", "feasible", "infeasible", "unknown", "invalid"]


class Solution(_Model):
    """A solve's answer. `placements` is empty unless status is optimal or feasible."""

    status: SolveStatus
    objective: int | None = None
    bound: int | None = Field(default=None, description="Best proven lower bound on objective.")
    gap: float | None = Field(default=None, description="(objective - bound) / objective.")
    breakdown: dict[str, int] = Field(default_factory=dict)
    placements: list[Placement] = Field(default_factory=list)
    unscheduled: list[Unscheduled] = Field(default_factory=list)
    prechecks: list[str] = Field(default_factory=list, description="Plain-word pre-check findings.")
    conflicts: list[str] = Field(
        default_factory=list, description="When infeasible: the rules that cannot hold together."
    )
    weights: Weights | None = None
    policy: RepairPolicy = Field(default_factory=RepairPolicy)
    stats: dict[str, Any] = Field(default_factory=dict)
