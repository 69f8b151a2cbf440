"""The integer time grid: working days of the plan, each cut into periods, numbered as slots.

Slot = day * periods_per_day + period, where day counts working days only. This is the one
module that converts dates to slots and back; both the model and the checker use it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from solver.problem import Calendar, DayRef, Window


def working_dates(calendar: Calendar) -> list[dt.date]:
    """The plan's working dates: working weekdays less holidays and closures, plus open dates.

    Statutory holidays and make-up working days come from the `holidays` library for the
    calendar's country, so that a plan follows the official calendar without hand entry.
    """
    assert calendar.first_date is not None and calendar.last_date is not None
    first, last = calendar.first_date, calendar.last_date
    closed: set[dt.date] = set(calendar.closed_dates)
    opened: set[dt.date] = set(calendar.open_dates)
    if calendar.holiday_country:
        import holidays

        official = holidays.country_holidays(
            calendar.holiday_country,
            subdiv=calendar.holiday_subdivision,
            years=range(first.year, last.year + 1),
        )
        closed |= set(official)
        opened |= set(getattr(official, "weekend_workdays", set()))
    opened -= set(calendar.closed_dates)  # an explicit closure beats a make-up day
    weekdays = set(calendar.working_weekdays)
    days = []
    day = first
    while day <= last:
        if day in opened or (day.weekday() in weekdays and day not in closed):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


@dataclass(frozen=True)
class TimeGrid:
    """Working days × periods of one plan."""

    periods_per_day: int
    dates: tuple[dt.date, ...] | None  # None on an abstract grid
    n_days: int
    _index: dict[dt.date, int] = field(default_factory=dict, repr=False, compare=False)

    @staticmethod
    def of(calendar: Calendar) -> TimeGrid:
        if calendar.abstract:
            assert calendar.days is not None
            return TimeGrid(calendar.periods_per_day, None, calendar.days)
        dates = tuple(working_dates(calendar))
        return TimeGrid(
            calendar.periods_per_day, dates, len(dates), {d: i for i, d in enumerate(dates)}
        )

    @property
    def n_slots(self) -> int:
        return self.n_days * self.periods_per_day

    def slot(self, day: int, period: int) -> int:
        return day * self.periods_per_day + period

    def day_of(self, slot: int) -> int:
        return slot // self.periods_per_day

    def period_of(self, slot: int) -> int:
        return slot % self.periods_per_day

    def day_index(self, day: DayRef) -> int | None:
        """Index of a working day; None when the date is not a working day of the plan."""
        if self.dates is None:
            assert isinstance(day, int)
            return day if 0 <= day < self.n_days else None
        assert isinstance(day, dt.date)
        return self._index.get(day)

    def first_day_from(self, day: DayRef) -> int:
        """The first working day on or after `day` (n_days if none)."""
        if self.dates is None:
            assert isinstance(day, int)
            return max(0, day)
        assert isinstance(day, dt.date)
        import bisect

        return bisect.bisect_left(self.dates, day)

    def last_day_until(self, day: DayRef) -> int:
        """The last working day on or before `day` (-1 if none)."""
        if self.dates is None:
            assert isinstance(day, int)
            return min(self.n_days - 1, day)
        assert isinstance(day, dt.date)
        import bisect

        return bisect.bisect_right(self.dates, day) - 1

    def day_ref(self, day: int) -> DayRef:
        """How a working day is written in files: its date, or its number on an abstract grid."""
        return day if self.dates is None else self.dates[day]

    def window_slots(self, window: Window) -> set[int]:
        """Every slot a window covers."""
        first, last = self.first_day_from(window.first), self.last_day_until(window.last)
        periods = range(self.periods_per_day) if window.periods is None else window.periods
        return {self.slot(d, p) for d in range(first, last + 1) for p in periods}

    def calendar_days_between(self, earlier: DayRef, later: int) -> int:
        """Calendar days from `earlier` to working day `later` (working days on abstract grids)."""
        if self.dates is None:
            assert isinstance(earlier, int)
            return later - earlier
        assert isinstance(earlier, dt.date)
        return (self.dates[later] - earlier).days

    def shift(self, day: DayRef, calendar_days: int) -> DayRef:
        """`day` plus some calendar days (working days on abstract grids)."""
        if self.dates is None:
            assert isinstance(day, int)
            return day + calendar_days
        assert isinstance(day, dt.date)
        return day + dt.timedelta(days=calendar_days)

    @cached_property
    def week_of_day(self) -> tuple[int, ...]:
        """A week number per working day (ISO weeks; five working days on abstract grids)."""
        if self.dates is None:
            return tuple(d // 5 for d in range(self.n_days))
        first = self.dates[0] - dt.timedelta(days=self.dates[0].weekday()) if self.dates else None
        return tuple((d - first).days // 7 for d in self.dates) if first else ()

    @cached_property
    def month_of_day(self) -> tuple[int, ...]:
        """A month number per working day (calendar months; 20 working days on abstract grids)."""
        if self.dates is None:
            return tuple(d // 20 for d in range(self.n_days))
        if not self.dates:
            return ()
        y0, m0 = self.dates[0].year, self.dates[0].month
        return tuple((d.year - y0) * 12 + d.month - m0 for d in self.dates)
