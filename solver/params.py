"""How long and how hard to search: the knobs a caller sets for one solve."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SolveParams(BaseModel):
    """Search parameters. Same problem + seed + workers=1 gives the same schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["optimise", "repair"] = "optimise"
    time_limit: float = Field(default=60.0, gt=0, description="Seconds.")
    workers: int = Field(default=2, ge=1, le=64)
    seed: int = Field(default=1, ge=0)
    gap_limit: float = Field(default=0.0, ge=0, le=1, description="Stop once the gap is below.")
    log: bool = False
