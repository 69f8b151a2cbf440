"""How Offseason says days, times, spans and names to people, in every message it writes.

Day and period numbers on abstract grids are written as in the plan's files (0-based), so a
planner can find them there.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from solver.grid import TimeGrid
from solver.problem import Course, DayRef, Window

# Fixed English names: `strftime` would follow the server's locale.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HALVES = ("morning", "afternoon")


class Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


def date_text(day: dt.date) -> str:
    """'Tue 2 Mar 2027'."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def day_text(grid: TimeGrid, day_index: int) -> str:
    """A working day: its date on real calendars, 'day 3' on abstract grids."""
    if grid.dates is None:
        return f"day {day_index}"
    return date_text(grid.dates[day_index])


def period_text(grid: TimeGrid, period: int) -> str:
    """'' for whole days, 'morning'/'afternoon' for half-days, else 'period k'."""
    if grid.periods_per_day == 1:
        return ""
    if grid.periods_per_day == 2 and period in (0, 1):
        return _HALVES[period]
    return f"period {period}"


def slot_text(grid: TimeGrid, slot: int) -> str:
    """'Tue 2 Mar 2027 morning', 'day 3 period 2', or just the day when days are not cut."""
    day = day_text(grid, grid.day_of(slot))
    period = period_text(grid, grid.period_of(slot))
    return f"{day} {period}" if period else day


def dates_text(first: DayRef, last: DayRef) -> str:
    """A span as written in the plan: '1 Mar–30 Apr 2027', '1–15 Mar 2027', 'days 3–10'."""
    if isinstance(first, dt.date) and isinstance(last, dt.date):
        return _date_span(first, last)
    return f"day {first}" if first == last else f"days {first}–{last}"


def _date_span(first: dt.date, last: dt.date) -> str:
    end = f"{last.day} {_MONTHS[last.month - 1]} {last.year}"
    if first == last:
        return end
    if first.year != last.year:
        return f"{first.day} {_MONTHS[first.month - 1]} {first.year}–{end}"
    if first.month != last.month:
        return f"{first.day} {_MONTHS[first.month - 1]}–{end}"
    return f"{first.day}–{end}"


def span_text(grid: TimeGrid, first_day: int, last_day: int) -> str:
    """Working days first..last (indices) as dates: '1 Mar–30 Apr 2027', or 'days 3–10'."""
    return dates_text(grid.day_ref(first_day), grid.day_ref(last_day))


def window_text(grid: TimeGrid, window: Window) -> str:
    """A window as written, with its periods when it covers only some: '1–5 Mar 2027 mornings'."""
    span = dates_text(window.first, window.last)
    if window.periods is None or set(range(grid.periods_per_day)) <= set(window.periods):
        return span
    names = [period_text(grid, p) for p in sorted(set(window.periods))]
    if grid.periods_per_day == 2:
        return f"{span} {names[0]}s"
    return f"{span} ({', '.join(names)})"


def periods_text(grid: TimeGrid, n_slots: int) -> str:
    """An amount of time in the plan's unit: '3 days', '5 half-days', '1 period'."""
    unit = {1: "day", 2: "half-day"}.get(grid.periods_per_day, "period")
    return f"{n_slots} {unit}" if n_slots == 1 else f"{n_slots} {unit}s"


def entity_text(entity: Named) -> str:
    """A trainer, site, unit or cohort: "'Name' (id)", or just the id when it has no name."""
    return f"'{entity.name}' ({entity.id})" if entity.name else entity.id


def course_text(course: Course) -> str:
    """ "'Rule of law, Datong county' (c-012)", or just the id when the course has no name."""
    return entity_text(course)
