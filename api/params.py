"""Path parameters: their limits (ids fit a 32-bit column) and the examples the OpenAPI
document shows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from api.bodies import INT_MAX


def number(what: str, example: int = 1) -> Any:
    return Path(ge=1, le=INT_MAX, description=f"The {what}'s id.", examples=[example])


def key(kind: str, example: str) -> Any:
    return Path(min_length=1, max_length=200, description=f"The {kind}'s id.", examples=[example])


PlanId = Annotated[int, number("plan")]
RequestId = Annotated[int, number("solve request")]
RunId = Annotated[int, number("run")]
VersionNumber = Annotated[
    int, Path(ge=1, le=INT_MAX, description="The version's number.", examples=[1])
]
BlackoutId = Annotated[int, number("blackout")]
PinId = Annotated[int, number("pin")]
FeedId = Annotated[int, number("feed")]
SubscriptionId = Annotated[int, number("subscription")]
NotificationId = Annotated[int, number("notification")]
KeyId = Annotated[int, number("API key", 2)]
SiteKey = Annotated[str, key("site", "s-1")]
TrainerKey = Annotated[str, key("trainer", "t-1")]
CourseKey = Annotated[str, key("course", "c-1")]
UnitKey = Annotated[str, key("unit", "u-1")]
PartyKey = Annotated[str, key("trainer's, unit's, site's or cohort", "t-1")]
FeedToken = Annotated[str, Path(min_length=16, max_length=100, description="The feed's secret.")]
