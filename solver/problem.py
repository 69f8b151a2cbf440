"""The problem a planner submits: the plan's calendar, its resources and what must be taught.

Names follow DOMAIN.md. Field-level rules live on the models; rules that need the whole plan
(references between entities) live in `reference_errors`, so that loading reports every error
at once with its path.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A day is a calendar date on a real calendar, or a 0-based working-day index on an
# abstract grid (timetabling benchmarks have days without dates).
DayRef = int | dt.date
Id = Annotated[str, Field(min_length=1, max_length=200)]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Calendar(_Model):
    """When training can happen: working days of the plan, each cut into periods."""

    first_date: dt.date | None = None
    last_date: dt.date | None = None
    days: int | None = Field(
        default=None, ge=1, le=5000, description="Abstract grid: number of working days, no dates."
    )
    working_weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="Monday = 0."
    )
    holiday_country: str | None = Field(
        default=None, description="ISO country code for statutory holidays, e.g. CN."
    )
    holiday_subdivision: str | None = None
    closed_dates: list[dt.date] = Field(default_factory=list)
    open_dates: list[dt.date] = Field(
        default_factory=list, description="Extra working days (e.g. make-up days)."
    )
    periods_per_day: int = Field(default=2, ge=1, le=24)
    period_starts: list[dt.time] | None = Field(
        default=None, description="Clock time each period starts (for calendars)."
    )
    period_minutes: int = Field(default=180, ge=1, le=24 * 60)
    time_zone: str = "UTC"

    @model_validator(mode="after")
    def _dates_or_days(self) -> Calendar:
        real = self.first_date is not None or self.last_date is not None
        if real and self.days is not None:
            raise ValueError("give either first_date/last_date or days, not both")
        if not real and self.days is None:
            raise ValueError("give first_date and last_date (or days for an abstract grid)")
        if real and (self.first_date is None or self.last_date is None):
            raise ValueError("first_date and last_date go together")
        if self.first_date and self.last_date and self.last_date < self.first_date:
            raise ValueError("last_date is before first_date")
        if self.first_date and self.last_date and (self.last_date - self.first_date).days > 3660:
            raise ValueError("a plan may span at most ten years")
        if self.period_starts is not None and len(self.period_starts) != self.periods_per_day:
            raise ValueError("period_starts needs one time per period")
        return self

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        import holidays  # the maintained holiday calendars (data only)

        if value is not None and value not in holidays.list_supported_countries():
            raise ValueError(f"no holiday calendar for country {value!r} (e.g. CN)")
        return value

    @property
    def abstract(self) -> bool:
        return self.days is not None


class Window(_Model):
    """Days first..last (inclusive), optionally only some periods of each of those days."""

    first: DayRef
    last: DayRef
    periods: list[Annotated[int, Field(ge=0)]] | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if type(self.first) is not type(self.last):
            raise ValueError("first and last must both be dates or both be day numbers")
        if self.last < self.first:  # type: ignore[operator]
            raise ValueError("last is before first")
        return self


class Site(_Model):
    """A place that holds one session at a time (a room; a base is several sites)."""

    id: Id
    name: str = ""
    capacity: int = Field(ge=0)
    capacity_hard: bool = True
    kind: Literal["local", "external", "online"] = "local"
    location: str = ""
    open: list[Window] = Field(
        default_factory=list, description="If given, the site is usable only inside these."
    )
    closures: list[Window] = Field(default_factory=list)

    def too_small(self, attendance: int) -> bool:
        """Cannot hold `attendance` trainees: its capacity is hard and smaller."""
        return self.capacity_hard and attendance > self.capacity


class Trainer(_Model):
    """Someone who teaches: topics, when they cannot, and how much they should."""

    id: Id
    name: str = ""
    topics: list[str] = Field(default_factory=list)
    unavailable: list[Window] = Field(default_factory=list)
    max_sessions_per_week: int | None = Field(default=None, ge=0)
    max_sessions_per_month: int | None = Field(default=None, ge=0)


class Unit(_Model):
    """A department, district or county whose cadres are trained."""

    id: Id
    name: str = ""
    headcount: int = Field(ge=0)
    away_cap: float | None = Field(
        default=None, ge=0, le=1, description="Share of headcount that may be away at once."
    )


class Cohort(_Model):
    """Trainees who attend together; belongs to a unit."""

    id: Id
    name: str = ""
    unit: Id
    size: int = Field(ge=0)


class Course(_Model):
    """What must be taught: `sessions` meetings of `length` periods each."""

    id: Id
    name: str = ""
    sessions: int = Field(ge=1, le=400)
    length: int = Field(default=1, ge=1)
    pattern: Literal["block", "spread"] = "spread"
    min_days: int | None = Field(
        default=None, ge=0, description="Spread: distinct days wanted (default: sessions)."
    )
    trainer: Id | None = None
    topic: str | None = None
    cohorts: list[Id] = Field(default_factory=list)
    attendance: int | None = Field(default=None, ge=0)
    earliest: DayRef | None = None
    latest: DayRef | None = None
    sites: list[Id] = Field(default_factory=list, description="Allowed sites; empty = any.")
    preferred_sites: list[Id] = Field(default_factory=list)
    priority: int = Field(default=1, ge=1, le=1000)
    required: bool = True

    @model_validator(mode="after")
    def _trainer_or_topic(self) -> Course:
        if (self.trainer is None) == (self.topic is None):
            raise ValueError("give exactly one of trainer (fixed) or topic (any qualified)")
        if self.min_days is not None and self.min_days > self.sessions:
            raise ValueError("min_days cannot exceed sessions")
        if self.attendance is None and not self.cohorts:
            raise ValueError("give cohorts or an explicit attendance")
        return self

    @property
    def wanted_days(self) -> int:
        return self.sessions if self.min_days is None else self.min_days


BlackoutScope = Literal["plan", "unit", "cohort", "site", "trainer", "course"]


class Blackout(_Model):
    """A time when something may not (hard) or should not (soft) be trained."""

    id: str = ""
    scope: BlackoutScope
    target: Id | None = Field(default=None, description="The unit/cohort/... id; none for plan.")
    window: Window
    hard: bool = True
    weight: int | None = Field(
        default=None, ge=0, description="Soft: cost per session inside (default: plan weight)."
    )
    reason: str = ""

    @model_validator(mode="after")
    def _target(self) -> Blackout:
        if (self.scope == "plan") != (self.target is None):
            raise ValueError("a plan-wide blackout has no target; every other scope needs one")
        return self


class Placement(_Model):
    """One session placed: its day and first period, site and trainer."""

    course: Id
    session: int = Field(ge=0)
    day: DayRef
    period: int = Field(default=0, ge=0)
    site: Id
    trainer: Id


class Pin(_Model):
    """A session of the course the planner fixed at a time; site and trainer may be left open.

    Pins name no session number: a course's sessions are interchangeable, so a pin says
    "one of this course's sessions is here".
    """

    course: Id
    day: DayRef
    period: int = Field(default=0, ge=0)
    site: Id | None = None
    trainer: Id | None = None


SOFT_TERMS: tuple[str, ...] = (
    "soft_blackout",
    "capacity_overflow",
    "min_days",
    "compactness",
    "stability",
    "density",
    "load_peak",
    "trainer_load",
    "preferred_site",
    "perturbation",
    "unscheduled",
)


class Weights(_Model):
    """Cost of one unit of each soft term (see the checker for what one unit is)."""

    soft_blackout: int = Field(ge=0)
    capacity_overflow: int = Field(ge=0)
    min_days: int = Field(ge=0)
    compactness: int = Field(ge=0)
    stability: int = Field(ge=0)
    density: int = Field(ge=0)
    load_peak: int = Field(ge=0)
    trainer_load: int = Field(ge=0)
    preferred_site: int = Field(ge=0)
    perturbation: int = Field(ge=0)
    unscheduled: int = Field(ge=0)

    @classmethod
    def resolve(cls, defaults: dict[str, int], overrides: dict[str, int]) -> Weights:
        """The plan's weights: its own overrides on top of the configured defaults."""
        return cls(**{**defaults, **overrides})


class Problem(_Model):
    """One plan to schedule."""

    name: str = "plan"
    calendar: Calendar
    sites: list[Site]
    trainers: list[Trainer]
    units: list[Unit] = Field(default_factory=list)
    cohorts: list[Cohort] = Field(default_factory=list)
    courses: list[Course]
    blackouts: list[Blackout] = Field(default_factory=list)
    pins: list[Pin] = Field(default_factory=list)
    previous: list[Placement] | None = Field(
        default=None, description="The published schedule a repair starts from."
    )
    weights: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Overrides of the default soft-term weights."
    )

    # Lookups by id, cached against the very list they index: `model_copy(update=...)` copies
    # the cache along with the fields, so a cache must notice when its list was replaced.
    def _index(
        self, name: str, items: Sequence[Any], build: Callable[[Sequence[Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        cache: dict[str, tuple[object, dict[str, Any]]] = self.__dict__.setdefault("_id_index", {})
        hit = cache.get(name)
        if hit is None or hit[0] is not items:
            hit = (items, build(items))
            cache[name] = hit
        return hit[1]

    def _by_id(self, name: str, items: Sequence[_HasId]) -> dict[str, Any]:
        return self._index(name, items, lambda xs: {x.id: x for x in xs})

    @property
    def course_by_id(self) -> dict[str, Course]:
        return self._by_id("courses", self.courses)

    @property
    def site_by_id(self) -> dict[str, Site]:
        return self._by_id("sites", self.sites)

    @property
    def trainer_by_id(self) -> dict[str, Trainer]:
        return self._by_id("trainers", self.trainers)

    @property
    def unit_by_id(self) -> dict[str, Unit]:
        return self._by_id("units", self.units)

    @property
    def cohort_by_id(self) -> dict[str, Cohort]:
        return self._by_id("cohorts", self.cohorts)

    def course(self, course_id: str) -> Course:
        return self.course_by_id[course_id]

    def attendance(self, course: Course) -> int:
        """Trainees in the room: the explicit attendance, else the sum of cohort sizes."""
        if course.attendance is not None:
            return course.attendance
        cohorts = self.cohort_by_id
        return sum(cohorts[q].size for q in course.cohorts)

    def qualified_trainers(self, course: Course) -> list[str]:
        """Who may teach the course: its fixed trainer, or everyone with its topic."""
        if course.trainer is not None:
            return [course.trainer]
        if course.topic is None:
            return []
        return list(self._index("topics", self.trainers, trainers_by_topic).get(course.topic, []))

    def allowed_sites(self, course: Course) -> list[str]:
        return list(course.sites) if course.sites else [s.id for s in self.sites]

    def units_of(self, course: Course) -> list[str]:
        cohorts = self.cohort_by_id
        return sorted({cohorts[q].unit for q in course.cohorts})


def trainers_by_topic(trainers: Sequence[Trainer]) -> dict[str, list[str]]:
    """Trainer ids per topic, in the plan's order."""
    by_topic: dict[str, list[str]] = defaultdict(list)
    for t in trainers:
        for topic in dict.fromkeys(t.topics):
            by_topic[topic].append(t.id)
    return dict(by_topic)


def reference_errors(problem: Problem) -> list[str]:
    """Every broken reference or cross-entity rule, as `path: problem` lines."""
    errors: list[str] = []
    ids: dict[str, set[str]] = {
        "course": set(problem.course_by_id),
        "site": set(problem.site_by_id),
        "trainer": set(problem.trainer_by_id),
        "unit": set(problem.unit_by_id),
        "cohort": set(problem.cohort_by_id),
    }
    for kind, item_ids in (
        ("sites", [x.id for x in problem.sites]),
        ("trainers", [x.id for x in problem.trainers]),
        ("units", [x.id for x in problem.units]),
        ("cohorts", [x.id for x in problem.cohorts]),
        ("courses", [x.id for x in problem.courses]),
    ):
        seen: set[str] = set()
        for i, item_id in enumerate(item_ids):
            if item_id in seen:
                errors.append(f'{kind}[{i}].id: duplicate id "{item_id}"')
            seen.add(item_id)
    real = not problem.calendar.abstract
    ppd = problem.calendar.periods_per_day

    def day_errors(path: str, day: DayRef | None) -> None:
        if day is None:
            return
        if real and not isinstance(day, dt.date):
            errors.append(f"{path}: this plan has real dates; give a date, not a day number")
        elif not real and isinstance(day, dt.date):
            errors.append(f"{path}: this plan is an abstract grid; give a day number, not a date")
        elif not real and isinstance(day, int) and not 0 <= day < (problem.calendar.days or 0):
            errors.append(f"{path}: day {day} is outside the grid of {problem.calendar.days} days")

    def window_errors(path: str, window: Window) -> None:
        day_errors(f"{path}.first", window.first)
        day_errors(f"{path}.last", window.last)
        for j, p in enumerate(window.periods or []):
            if p >= ppd:
                errors.append(f"{path}.periods[{j}]: period {p} but a day has {ppd}")

    for i, site in enumerate(problem.sites):
        for j, w in enumerate(site.open):
            window_errors(f"sites[{i}].open[{j}]", w)
        for j, w in enumerate(site.closures):
            window_errors(f"sites[{i}].closures[{j}]", w)
    for i, trainer in enumerate(problem.trainers):
        for j, w in enumerate(trainer.unavailable):
            window_errors(f"trainers[{i}].unavailable[{j}]", w)
    for i, cohort in enumerate(problem.cohorts):
        if cohort.unit not in ids["unit"]:
            errors.append(f'cohorts[{i}].unit: unknown unit "{cohort.unit}"')
    topics = {t for trainer in problem.trainers for t in trainer.topics}
    for i, course in enumerate(problem.courses):
        p = f"courses[{i}]"
        if course.trainer is not None and course.trainer not in ids["trainer"]:
            errors.append(f'{p}.trainer: unknown trainer "{course.trainer}"')
        if course.topic is not None and course.topic not in topics:
            errors.append(f'{p}.topic: no trainer teaches "{course.topic}"')
        for j, q in enumerate(course.cohorts):
            if q not in ids["cohort"]:
                errors.append(f'{p}.cohorts[{j}]: unknown cohort "{q}"')
        if len(set(course.cohorts)) != len(course.cohorts):
            errors.append(f"{p}.cohorts: a cohort is listed twice")
        for field, values in (("sites", course.sites), ("preferred_sites", course.preferred_sites)):
            for j, s in enumerate(values):
                if s not in ids["site"]:
                    errors.append(f'{p}.{field}[{j}]: unknown site "{s}"')
        if course.length > ppd:
            errors.append(f"{p}.length: {course.length} periods but a day has {ppd}")
        day_errors(f"{p}.earliest", course.earliest)
        day_errors(f"{p}.latest", course.latest)
        if (
            course.earliest is not None
            and course.latest is not None
            and type(course.earliest) is type(course.latest)
            and course.latest < course.earliest  # type: ignore[operator]
        ):
            errors.append(f"{p}.latest: before earliest")
    scope_kind = {"unit": "unit", "cohort": "cohort", "site": "site", "trainer": "trainer"}
    for i, b in enumerate(problem.blackouts):
        kind = scope_kind.get(b.scope, "course" if b.scope == "course" else "")
        if kind and b.target not in ids[kind]:
            errors.append(f'blackouts[{i}].target: unknown {kind} "{b.target}"')
        window_errors(f"blackouts[{i}].window", b.window)
    placements: list[tuple[str, Pin | Placement]] = [
        (f"pins[{i}]", pin) for i, pin in enumerate(problem.pins)
    ] + [(f"previous[{i}]", pl) for i, pl in enumerate(problem.previous or [])]
    for path, pl in placements:
        # The published schedule may name courses, sites and trainers the plan has since lost
        # (a course cancelled, a site closed for good): a repair moves or drops those sessions.
        published = isinstance(pl, Placement)
        if pl.course not in ids["course"]:
            if not published:
                errors.append(f'{path}.course: unknown course "{pl.course}"')
        elif isinstance(pl, Placement) and pl.session >= problem.course(pl.course).sessions:
            n = problem.course(pl.course).sessions
            errors.append(f"{path}.session: course {pl.course} has {n} sessions (0..{n - 1})")
        if pl.site is not None and pl.site not in ids["site"] and not published:
            errors.append(f'{path}.site: unknown site "{pl.site}"')
        if pl.trainer is not None and pl.trainer not in ids["trainer"] and not published:
            errors.append(f'{path}.trainer: unknown trainer "{pl.trainer}"')
        if pl.period >= ppd:
            errors.append(f"{path}.period: period {pl.period} but a day has {ppd}")
        day_errors(f"{path}.day", pl.day)
    pinned = [(pin.course, pin.day, pin.period) for pin in problem.pins]
    if len(set(pinned)) != len(pinned):
        errors.append("pins: the same course is pinned twice at one time")
    per_course: dict[str, int] = {}
    for pin in problem.pins:
        per_course[pin.course] = per_course.get(pin.course, 0) + 1
    for course_id, n in per_course.items():
        if course_id in ids["course"] and n > problem.course(course_id).sessions:
            errors.append(f"pins: course {course_id} has more pins than sessions")
    previous = [(pl.course, pl.session) for pl in problem.previous or []]
    if len(set(previous)) != len(previous):
        errors.append("previous: a session appears twice")
    for key in problem.weights:
        if key not in SOFT_TERMS:
            errors.append(f"weights.{key}: unknown soft term (known: {', '.join(SOFT_TERMS)})")
    return errors
