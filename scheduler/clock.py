"""Time as the scheduler sees it: an injectable clock, and "today" in a plan's own calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from solver.problem import Calendar, DayRef

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The real clock (timezone-aware UTC); tests pass their own `Clock` instead."""
    return dt.datetime.now(dt.UTC)


def plan_today(calendar: Calendar, now: dt.datetime) -> DayRef | None:
    """Today's date in the plan's time zone; None on an abstract grid, which has no dates.

    Without a today, repairs freeze nothing and briefings list every session as coming.
    """
    if calendar.abstract:
        return None
    return now.astimezone(ZoneInfo(calendar.time_zone)).date()
