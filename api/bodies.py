"""What request bodies must satisfy beyond their models: values a database can store, and a
calendar the service can use (a known time zone, a holiday calendar that exists)."""

from __future__ import annotations

from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from solver.grid import TimeGrid
from solver.problem import Calendar, Problem

INT_MAX = 2**31 - 1  # PostgreSQL's integer
M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 1 << 20  # every body but a whole problem file
MAX_PROBLEM_BYTES = 32 << 20  # a national plan (L) is about 7 MB


def unstorable(value: Any, path: str = "") -> list[str]:
    """Fields no database column takes: integers beyond 32 bits, text with NUL characters."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return (
            [f"{path or 'value'}: {value} is out of range (at most {INT_MAX})"]
            if abs(value) > INT_MAX
            else []
        )
    if isinstance(value, str):
        return [f"{path or 'value'}: contains a NUL character"] if "\x00" in value else []
    if isinstance(value, BaseModel):
        return unstorable(value.model_dump(), path)
    if isinstance(value, dict):
        found = []
        for k, v in value.items():
            found += unstorable(k, path) + unstorable(v, f"{path}.{k}" if path else str(k))
        return found
    if isinstance(value, list | tuple):
        return [e for i, v in enumerate(value) for e in unstorable(v, f"{path}[{i}]")]
    return []


def calendar_errors(calendar: Calendar, path: str = "calendar") -> list[str]:
    """A calendar whose zone or holidays cannot be looked up would fail every feed and solve."""
    try:
        ZoneInfo(calendar.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return [f"{path}.time_zone: unknown time zone {calendar.time_zone!r}"]
    try:
        TimeGrid.of(calendar)
    except (NotImplementedError, KeyError, ValueError) as exc:
        return [f"{path}.holiday_country: no holiday calendar ({exc})"]
    return []


def storable(model: M) -> M:
    errors = unstorable(model)
    if errors:
        raise ValueError("; ".join(errors[:5]))
    return model


def usable_problem(problem: Problem) -> Problem:
    errors = unstorable(problem) + calendar_errors(problem.calendar)
    if errors:
        raise ValueError("; ".join(errors[:5]))
    return problem


def usable_calendar(calendar: Calendar | None) -> Calendar | None:
    errors = calendar_errors(calendar) if calendar is not None else []
    if errors:
        raise ValueError("; ".join(errors))
    return calendar
