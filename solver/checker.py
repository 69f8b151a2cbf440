"""The independent checker: every hard rule and soft term of the rules spec, in plain Python.

It is the specification the CP-SAT model is tested against and the judge run after every solve,
so it shares nothing with the model but the time grid, and it never raises on a bad schedule.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from solver.grid import TimeGrid
from solver.problem import (
    SOFT_TERMS,
    Blackout,
    Cohort,
    Course,
    DayRef,
    Placement,
    Problem,
    Site,
    Trainer,
    Unit,
    Weights,
    Window,
)
from solver.solution import CheckResult, Cost, RepairPolicy, Violation

NO_REPAIR = RepairPolicy()
K = TypeVar("K", bound=Hashable)


def check(
    problem: Problem,
    placements: Sequence[Placement],
    weights: Weights,
    policy: RepairPolicy = NO_REPAIR,
) -> CheckResult:
    """Every hard rule the schedule breaks and every soft cost it pays, in a planner's words."""
    s = Schedule.of(problem, placements)
    violations = [
        # Hard
        *sessions_violations(s),
        *working_time_violations(s),
        *site_allowed_violations(s),
        *trainer_qualified_violations(s),
        *site_clash_violations(s),
        *trainer_clash_violations(s),
        *cohort_clash_violations(s),
        *trainer_unavailable_violations(s),
        *site_closed_violations(s),
        *hard_blackout_violations(s),
        *capacity_violations(s),
        *course_window_violations(s),
        *block_violations(s),
        *pinned_violations(s),
        *frozen_violations(s, policy),
    ]
    costs = [
        # Soft
        *soft_blackout_costs(s, weights),
        *capacity_overflow_costs(s, weights),
        *min_days_costs(s, weights),
        *compactness_costs(s, weights),
        *stability_costs(s, weights),
        *density_costs(s, weights),
        *load_peak_costs(s, weights),
        *trainer_load_costs(s, weights),
        *preferred_site_costs(s, weights),
        *perturbation_costs(s, weights, policy),
        *unscheduled_costs(s, weights),
    ]
    costs = [cost for cost in costs if cost.cost > 0]
    breakdown = dict.fromkeys(SOFT_TERMS, 0)
    for cost in costs:
        breakdown[cost.term] += cost.cost
    return CheckResult(
        violations=violations,
        breakdown=breakdown,
        objective=sum(breakdown.values()),
        costs=costs,
    )


def unscheduled_courses(problem: Problem, placements: Iterable[Placement]) -> list[str]:
    """Courses with no session placed, in the plan's order."""
    placed = {p.course for p in placements}
    return list(dict.fromkeys(c.id for c in problem.courses if c.id not in placed))


# ---------------------------------------------------------------------------------------------
# The schedule as the rules read it


@dataclass(frozen=True)
class PlacedSession:
    """A placement of a known course, with its working day and the slots it occupies.

    `day` is None and `slots` empty when the placement is not at a working time, so rules about
    time pass over it (the `working_time` rule reports it once).
    """

    index: int
    placement: Placement
    course: Course
    day: int | None
    slots: range

    @property
    def start(self) -> int:
        return self.slots.start


@dataclass(frozen=True)
class Schedule:
    """The placements resolved against the plan once, with the look-ups every rule needs."""

    problem: Problem
    grid: TimeGrid
    placements: Sequence[Placement]
    sessions: list[PlacedSession]
    courses: dict[str, Course]
    sites: dict[str, Site]
    trainers: dict[str, Trainer]
    cohorts: dict[str, Cohort]
    units: dict[str, Unit]
    _window_slots: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)
    _blackouts: dict[tuple[str, str | None], list[Blackout]] = field(
        default_factory=dict, repr=False
    )
    _applying: dict[tuple[str, str, str, bool], list[tuple[Blackout, frozenset[int]]]] = field(
        default_factory=dict, repr=False
    )
    _course_facts: dict[str, tuple[int, list[str]]] = field(default_factory=dict, repr=False)
    _allowed_sites: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict, repr=False)
    _qualified: dict[tuple[str | None, str | None], frozenset[str]] = field(
        default_factory=dict, repr=False
    )
    _when: dict[tuple[DayRef, int], str] = field(default_factory=dict, repr=False)

    @staticmethod
    def of(problem: Problem, placements: Sequence[Placement]) -> Schedule:
        grid = TimeGrid.of(problem.calendar)
        courses = {c.id: c for c in problem.courses}
        sessions = []
        days: dict[DayRef, int | None] = {}  # sessions share their days: look each up once
        for i, p in enumerate(placements):
            course = courses.get(p.course)
            if course is not None:
                day = days.get(p.day, -1)
                if day == -1:
                    day = days[p.day] = day_index(grid, p.day)
                slots = session_slots(grid, day, p.period, course.length)
                sessions.append(PlacedSession(i, p, course, day if slots else None, slots))
        blackouts: dict[tuple[str, str | None], list[Blackout]] = defaultdict(list)
        for b in problem.blackouts:
            blackouts[(b.scope, b.target)].append(b)
        return Schedule(
            problem=problem,
            grid=grid,
            placements=placements,
            sessions=sessions,
            courses=courses,
            sites={x.id: x for x in problem.sites},
            trainers={x.id: x for x in problem.trainers},
            cohorts={x.id: x for x in problem.cohorts},
            units={x.id: x for x in problem.units},
            _blackouts=dict(blackouts),
        )

    def by_course(self) -> dict[str, list[PlacedSession]]:
        grouped: dict[str, list[PlacedSession]] = defaultdict(list)
        for ss in self.sessions:
            grouped[ss.course.id].append(ss)
        return grouped

    def slots_of(self, window: Window) -> frozenset[int]:
        slots = self._window_slots.get(id(window))
        if slots is None:
            slots = window_slots(self.grid, window)
            self._window_slots[id(window)] = slots
        return slots

    def inside(self, slots: Iterable[int], window: Window) -> bool:
        return not self.slots_of(window).isdisjoint(slots)

    def _facts(self, course: Course) -> tuple[int, list[str]]:
        facts = self._course_facts.get(course.id)
        if facts is None:
            size = course.attendance
            if size is None:
                size = sum(self.cohorts[q].size for q in course.cohorts if q in self.cohorts)
            units = sorted({self.cohorts[q].unit for q in course.cohorts if q in self.cohorts})
            facts = self._course_facts[course.id] = (size, units)
        return facts

    def attendance(self, course: Course) -> int:
        """As Problem.attendance, but an unknown cohort counts as empty instead of raising."""
        return self._facts(course)[0]

    def units_of(self, course: Course) -> list[str]:
        return self._facts(course)[1]

    # The two below ask the Problem, once per distinct answer: both scan every site or trainer,
    # too slow to repeat for each of 50,000 sessions.
    def allowed_sites(self, course: Course) -> frozenset[str]:
        key = tuple(course.sites)
        if key not in self._allowed_sites:
            self._allowed_sites[key] = frozenset(self.problem.allowed_sites(course))
        return self._allowed_sites[key]

    def qualified_trainers(self, course: Course) -> frozenset[str]:
        key = (course.trainer, course.topic)
        if key not in self._qualified:
            self._qualified[key] = frozenset(self.problem.qualified_trainers(course))
        return self._qualified[key]

    def blackouts_for(self, ss: PlacedSession, hard: bool) -> list[tuple[Blackout, frozenset[int]]]:
        """Hard (or soft) blackouts that apply to a session whatever their window, each with
        the slots it covers."""
        p, course = ss.placement, ss.course
        found = self._applying.get((course.id, p.site, p.trainer, hard))
        if found is None:  # sessions of a course mostly share their site and trainer
            keys: list[tuple[str, str | None]] = [("plan", None)]
            keys += [("unit", u) for u in self.units_of(course)]
            keys += [("cohort", q) for q in dict.fromkeys(course.cohorts)]
            keys += [("site", p.site), ("trainer", p.trainer), ("course", course.id)]
            found = [
                (b, self.slots_of(b.window))
                for key in keys
                for b in self._blackouts.get(key, ())
                if b.hard == hard
            ]
            self._applying[(course.id, p.site, p.trainer, hard)] = found
        return found

    def trainer_unavailable(self, trainer: str, slots: range) -> bool:
        """Whether a trainer cannot teach at these slots (or is no longer in the plan)."""
        known = self.trainers.get(trainer)
        if known is None:
            return True
        windows = list(known.unavailable)
        windows += [b.window for b in self._blackouts.get(("trainer", trainer), ()) if b.hard]
        return any(self.inside(slots, w) for w in windows)

    def when(self, day: DayRef, period: int) -> str:
        """'on 2027-03-02 period 1' (no period on whole-day grids; 'day 3' on abstract grids).

        Worded once per distinct time: a national plan's costs name 30,000 sessions.
        """
        words = self._when.get((day, period))
        if words is None:
            on = f"on {day_label(day)}"
            words = on if self.grid.periods_per_day == 1 else f"{on} period {period}"
            self._when[(day, period)] = words
        return words

    def when_slot(self, slot: int) -> str:
        return self.when(self.grid.day_ref(self.grid.day_of(slot)), self.grid.period_of(slot))

    def when_session(self, ss: PlacedSession) -> str:
        return self.when(ss.placement.day, ss.placement.period)

    def held_at(self, ss: PlacedSession) -> str:
        return f"{label(ss.course)} is held at site {ss.placement.site} {self.when_session(ss)}"


def day_index(grid: TimeGrid, day: DayRef) -> int | None:
    """The working-day index of a day; None when it is not one (or is of the wrong kind)."""
    return grid.day_index(day) if same_kind(grid, day) else None


def same_kind(grid: TimeGrid, day: DayRef) -> bool:
    """A date on a real calendar, a day number on an abstract grid."""
    return isinstance(day, dt.date) == (grid.dates is not None)


def session_slots(grid: TimeGrid, day: int | None, period: int, length: int) -> range:
    """Slots a session occupies; empty unless it fits inside one working day."""
    if day is None or period + length > grid.periods_per_day:
        return range(0)
    start = grid.slot(day, period)
    return range(start, start + length)


def window_slots(grid: TimeGrid, window: Window) -> frozenset[int]:
    """grid.window_slots, but empty for days of the wrong kind and ignoring periods past a day."""
    if not (same_kind(grid, window.first) and same_kind(grid, window.last)):
        return frozenset()
    if window.periods is not None and any(p >= grid.periods_per_day for p in window.periods):
        fitting = [p for p in window.periods if p < grid.periods_per_day]
        window = window.model_copy(update={"periods": fitting})
    return frozenset(grid.window_slots(window))


def day_label(day: DayRef) -> str:
    return f"day {day}" if isinstance(day, int) else day.isoformat()


def days_from(earlier: DayRef, later: DayRef) -> int | None:
    """Calendar days (day numbers on abstract grids) from one day to another; None if unlike."""
    if isinstance(earlier, dt.date) and isinstance(later, dt.date):
        return (later - earlier).days
    if isinstance(earlier, int) and isinstance(later, int):
        return later - earlier
    return None


def label(course: Course) -> str:
    return f'"{course.name}"' if course.name else f"course {course.id}"


def listing(sessions: Sequence[PlacedSession], most: int = 4) -> str:
    """'"A" (session 0) and "B" (session 1)', shortened when many."""
    names = [f"{label(ss.course)} (session {ss.placement.session})" for ss in sessions[:most]]
    if len(sessions) > most:
        names.append(f"{len(sessions) - most} more")
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def clashes(
    uses: Iterable[tuple[K, int, PlacedSession]],
) -> list[tuple[K, int, list[PlacedSession]]]:
    """Groups of sessions using one resource in one slot, each group once.

    Per-slot buckets keep this linear in the schedule's size; a clash seen again in the next
    slot of a longer session, or through a second shared cohort, is not reported twice.
    """
    first: dict[tuple[K, int], PlacedSession] = {}
    buckets: dict[tuple[K, int], list[PlacedSession]] = {}  # only where two or more meet
    for resource, slot, ss in uses:
        key = (resource, slot)
        there = first.setdefault(key, ss)
        if there is not ss:
            buckets.setdefault(key, [there]).append(ss)
    seen: set[tuple[int, ...]] = set()
    found = []
    for (resource, slot), group in buckets.items():
        members = tuple(ss.index for ss in group)
        if members not in seen:
            seen.add(members)
            found.append((resource, slot, group))
    return found


def blackout_scope(b: Blackout) -> str:
    return "the whole plan" if b.scope == "plan" else f"{b.scope} {b.target}"


def reason(*reasons: str) -> str:
    return next((r for r in reasons if r), "no reason given")


# ---------------------------------------------------------------------------------------------
# Hard


def sessions_violations(s: Schedule) -> list[Violation]:
    """A course is placed whole (each session once) or not at all; a required one is placed."""
    found = []
    for p in s.placements:
        course = s.courses.get(p.course)
        if course is not None and p.site in s.sites and p.trainer in s.trainers:
            continue
        when = s.when(p.day, p.period)
        name = label(course) if course else f'unknown course "{p.course}"'
        if course is None:
            found.append(f"a session of {name} is placed {when}")
        if p.site not in s.sites:
            found.append(
                f'{name} (session {p.session}) is placed {when} at unknown site "{p.site}"'
            )
        if p.trainer not in s.trainers:
            found.append(
                f'{name} (session {p.session}) is taught {when} by unknown trainer "{p.trainer}"'
            )
    placed: dict[str, Counter[int]] = defaultdict(Counter)
    for ss in s.sessions:
        placed[ss.course.id][ss.placement.session] += 1
    for course in s.courses.values():
        counts = placed.get(course.id)
        if not counts:
            if course.required:
                found.append(f"{label(course)} is required but not scheduled")
            continue
        for k, n in sorted(counts.items()):
            if k >= course.sessions:
                found.append(
                    f"{label(course)} has {course.sessions} sessions but session {k} is placed"
                )
            elif n > 1:
                found.append(f"{label(course)} session {k} is placed {n} times")
        missing = [k for k in range(course.sessions) if k not in counts]
        if missing:
            found.append(
                f"{label(course)} is only partly placed: "
                f"session {', '.join(map(str, missing))} not placed"
            )
    return [Violation(rule="sessions", message=m) for m in found]


def working_time_violations(s: Schedule) -> list[Violation]:
    """A session is held on a working day of the plan and ends within that day."""
    found = []
    ppd = s.grid.periods_per_day
    for ss in s.sessions:
        if ss.slots:
            continue
        p, course = ss.placement, ss.course
        if day_index(s.grid, p.day) is None:
            found.append(
                f"{label(course)} is placed on {day_label(p.day)}, not a working day of the plan"
            )
        else:
            found.append(
                f"{label(course)} starts {s.when_session(ss)} and lasts {course.length} "
                f"period(s), past the end of a {ppd}-period day"
            )
    return [Violation(rule="working_time", message=m) for m in found]


def site_allowed_violations(s: Schedule) -> list[Violation]:
    """A course is held only at its allowed sites (an unknown site is a `sessions` violation)."""
    return [
        Violation(
            rule="site_allowed",
            message=f"{s.held_at(ss)}, not one of its sites ({', '.join(ss.course.sites)})",
        )
        for ss in s.sessions
        if ss.placement.site in s.sites and ss.placement.site not in s.allowed_sites(ss.course)
    ]


def trainer_qualified_violations(s: Schedule) -> list[Violation]:
    """A course is taught by its fixed trainer, or by a trainer with its topic."""
    found = []
    for ss in s.sessions:
        trainer, course = ss.placement.trainer, ss.course
        if trainer in s.trainers and trainer not in s.qualified_trainers(course):
            why = (
                f"it is taught by {course.trainer}"
                if course.trainer is not None
                else f'they do not teach "{course.topic}"'
            )
            found.append(
                f"trainer {trainer} teaches {label(course)} {s.when_session(ss)} "
                f"but is not qualified ({why})"
            )
    return [Violation(rule="trainer_qualified", message=m) for m in found]


def site_clash_violations(s: Schedule) -> list[Violation]:
    """A site holds one session at a time."""
    uses = ((ss.placement.site, slot, ss) for ss in s.sessions for slot in ss.slots)
    return [
        Violation(
            rule="site_clash",
            message=f"site {site} holds {listing(group)} at the same time {s.when_slot(slot)}",
        )
        for site, slot, group in clashes(uses)
    ]


def trainer_clash_violations(s: Schedule) -> list[Violation]:
    """A trainer teaches one session at a time."""
    uses = ((ss.placement.trainer, slot, ss) for ss in s.sessions for slot in ss.slots)
    return [
        Violation(
            rule="trainer_clash",
            message=f"trainer {trainer} teaches {listing(group)} at the same time "
            f"{s.when_slot(slot)}",
        )
        for trainer, slot, group in clashes(uses)
    ]


def cohort_clash_violations(s: Schedule) -> list[Violation]:
    """A cohort attends one session at a time, and a course never meets twice at once."""

    def uses() -> Iterator[tuple[tuple[str, str], int, PlacedSession]]:
        for ss in s.sessions:
            for slot in ss.slots:
                yield ("course", ss.course.id), slot, ss
                for q in dict.fromkeys(ss.course.cohorts):
                    yield ("cohort", q), slot, ss

    found = []
    for (kind, key), slot, group in clashes(uses()):
        who = f"{label(group[0].course)} meets" if kind == "course" else f"cohort {key} attends"
        found.append(f"{who} {listing(group)} at the same time {s.when_slot(slot)}")
    return [Violation(rule="cohort_clash", message=m) for m in found]


def trainer_unavailable_violations(s: Schedule) -> list[Violation]:
    """A trainer never teaches inside one of their unavailable windows."""
    found = []
    for ss in s.sessions:
        trainer = s.trainers.get(ss.placement.trainer)
        windows = trainer.unavailable if trainer else []
        for w in windows:
            if s.inside(ss.slots, w):
                found.append(
                    f"trainer {ss.placement.trainer} teaches {label(ss.course)} "
                    f"{s.when_session(ss)} but is unavailable ({reason(w.reason)})"
                )
    return [Violation(rule="trainer_unavailable", message=m) for m in found]


def site_closed_violations(s: Schedule) -> list[Violation]:
    """A site is used only outside its closures and, if it has open windows, inside them."""
    found = []
    open_slots: dict[str, frozenset[int]] = {}
    for ss in s.sessions:
        site = s.sites.get(ss.placement.site)
        if site is None or not ss.slots:
            continue
        for w in site.closures:
            if s.inside(ss.slots, w):
                found.append(f"{s.held_at(ss)} but the site is closed ({reason(w.reason)})")
        if site.open:
            if site.id not in open_slots:
                open_slots[site.id] = frozenset().union(*(s.slots_of(w) for w in site.open))
            if not open_slots[site.id].issuperset(ss.slots):
                found.append(f"{s.held_at(ss)} but the site is not open then")
    return [Violation(rule="site_closed", message=m) for m in found]


def hard_blackout_violations(s: Schedule) -> list[Violation]:
    """No session is inside a hard blackout that applies to it."""
    return [
        Violation(
            rule="hard_blackout",
            message=f"{label(ss.course)} is held {s.when_session(ss)} inside a blackout of "
            f"{blackout_scope(b)} ({reason(b.reason, b.window.reason, b.id)})",
        )
        for ss in s.sessions
        for b, slots in s.blackouts_for(ss, hard=True)
        if not slots.isdisjoint(ss.slots)
    ]


def capacity_violations(s: Schedule) -> list[Violation]:
    """At a site whose capacity is hard, a course's attendance fits in its seats."""
    found = []
    for ss in s.sessions:
        site = s.sites.get(ss.placement.site)
        size = s.attendance(ss.course)
        if site is not None and site.capacity_hard and size > site.capacity:
            found.append(
                f"{label(ss.course)} has {size} trainees but site {site.id} seats "
                f"{site.capacity} ({s.when_session(ss)})"
            )
    return [Violation(rule="capacity", message=m) for m in found]


def course_window_violations(s: Schedule) -> list[Violation]:
    """A course is held within its earliest and latest dates."""
    found = []
    for ss in s.sessions:
        course = ss.course
        if ss.day is None:
            continue
        if (
            course.earliest is not None
            and same_kind(s.grid, course.earliest)
            and ss.day < s.grid.first_day_from(course.earliest)
        ):
            found.append(
                f"{label(course)} is held {s.when_session(ss)} "
                f"but may not start before {day_label(course.earliest)}"
            )
        if (
            course.latest is not None
            and same_kind(s.grid, course.latest)
            and ss.day > s.grid.last_day_until(course.latest)
        ):
            found.append(
                f"{label(course)} is held {s.when_session(ss)} "
                f"but must end by {day_label(course.latest)}"
            )
    return [Violation(rule="course_window", message=m) for m in found]


def block_violations(s: Schedule) -> list[Violation]:
    """A block course meets at one site and period, session k on the k-th working day after 0."""
    found = []
    for course_id, sessions in s.by_course().items():
        course = s.courses[course_id]
        if course.pattern != "block":
            continue
        sites = sorted({ss.placement.site for ss in sessions})
        if len(sites) > 1:
            found.append(f"block course {label(course)} moves between sites {', '.join(sites)}")
        periods = sorted({ss.placement.period for ss in sessions})
        if len(periods) > 1:
            found.append(
                f"block course {label(course)} starts in different periods "
                f"({', '.join(map(str, periods))})"
            )
        first = next((ss.day for ss in sessions if ss.placement.session == 0), None)
        if first is None:
            continue
        for ss in sessions:
            k = ss.placement.session
            if ss.day is not None and ss.day != first + k:
                expected = (
                    s.when(s.grid.day_ref(first + k), ss.placement.period)
                    if first + k < s.grid.n_days
                    else "after the plan's last working day"
                )
                found.append(
                    f"block course {label(course)} session {k} is held {s.when_session(ss)}, "
                    f"not on consecutive working days (expected {expected})"
                )
    return [Violation(rule="block", message=m) for m in found]


def pinned_violations(s: Schedule) -> list[Violation]:
    """Each pin is met by its own session of the course, at the pinned time, site and trainer.

    Matching pins one by one is exact because a course is never pinned twice at one time
    (reference_errors), so no two pins compete for a session.
    """
    found = []
    unmatched = s.by_course()  # sessions not yet taken by a pin
    for pin in s.problem.pins:
        course = s.courses.get(pin.course)
        if course is None:
            continue
        if course.id not in unmatched:
            found.append(f"{label(course)} is pinned {s.when(pin.day, pin.period)} but not placed")
            continue
        sessions = unmatched[course.id]
        match = next(
            (
                ss
                for ss in sessions
                if ss.placement.day == pin.day
                and ss.placement.period == pin.period
                and pin.site in (None, ss.placement.site)
                and pin.trainer in (None, ss.placement.trainer)
            ),
            None,
        )
        if match is None:
            at = f" at site {pin.site}" if pin.site else ""
            by = f" with trainer {pin.trainer}" if pin.trainer else ""
            found.append(
                f"{label(course)} is pinned {s.when(pin.day, pin.period)}{at}{by} "
                "but no session of it is held there"
            )
        else:
            sessions.remove(match)
    return [Violation(rule="pinned", message=m) for m in found]


def frozen_violations(s: Schedule, policy: RepairPolicy) -> list[Violation]:
    """In a repair, published sessions before now + freeze_days stay where they are.

    The trainer may change only when the published one can no longer teach then.
    """
    if s.problem.previous is None or policy.now is None:
        return []
    if not same_kind(s.grid, policy.now):
        kind = "day numbers" if s.grid.dates is None else "dates"
        return [Violation(rule="frozen", message=f"repair time {policy.now} is not one of {kind}")]
    cutoff = s.grid.shift(policy.now, policy.freeze_days)
    # Sessions share their days: ask each day once whether it is before the cutoff.
    days = {p.day for p in s.problem.previous} | {p.day for p in s.placements}
    frozen_days = {d for d in days if (days_from(d, cutoff) or 0) > 0}
    trainers_at: dict[tuple[str, DayRef, int, str], set[str]] = defaultdict(set)
    for p in s.placements:
        if p.day in frozen_days:
            trainers_at[(p.course, p.day, p.period, p.site)].add(p.trainer)
    found = []
    for prev in s.problem.previous:
        course = s.courses.get(prev.course)
        if course is None or prev.day not in frozen_days:
            continue
        trainers = trainers_at.get((prev.course, prev.day, prev.period, prev.site))
        if trainers is not None and prev.trainer in trainers:
            continue
        was = f"{label(course)} {s.when(prev.day, prev.period)} at site {prev.site}"
        frozen = f"is frozen (before {day_label(cutoff)})"
        if trainers is None:
            found.append(f"{was} {frozen} but was moved")
            continue
        slots = session_slots(s.grid, day_index(s.grid, prev.day), prev.period, course.length)
        if not s.trainer_unavailable(prev.trainer, slots):
            found.append(
                f"{was} {frozen} but its trainer changed from "
                f"{prev.trainer} to {', '.join(sorted(trainers))}"
            )
    return [Violation(rule="frozen", message=m) for m in found]


# ---------------------------------------------------------------------------------------------
# Soft


def soft_blackout_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """Each session inside a soft blackout that applies to it pays that blackout's weight."""
    return [
        Cost(
            term="soft_blackout",
            cost=weights.soft_blackout if b.weight is None else b.weight,
            message=f"{label(ss.course)} is held {s.when_session(ss)} inside a soft blackout "
            f"of {blackout_scope(b)} ({reason(b.reason, b.window.reason, b.id)})",
            course=ss.course.id,
            session=ss.placement.session,
        )
        for ss in s.sessions
        for b, slots in s.blackouts_for(ss, hard=False)
        if not slots.isdisjoint(ss.slots)
    ]


def capacity_overflow_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """Each session at a site with a soft capacity pays per trainee over its seats."""
    costs = []
    for ss in s.sessions:
        site = s.sites.get(ss.placement.site)
        if site is None or site.capacity_hard:
            continue
        over = s.attendance(ss.course) - site.capacity
        if over > 0:
            costs.append(
                Cost(
                    term="capacity_overflow",
                    cost=weights.capacity_overflow * over,
                    message=f"{label(ss.course)} has {over} trainees more than the "
                    f"{site.capacity} seats of site {site.id} {s.when_session(ss)}",
                    course=ss.course.id,
                    session=ss.placement.session,
                )
            )
    return costs


def min_days_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """A spread course pays per distinct day short of the days it wants."""
    costs = []
    for course_id, sessions in s.by_course().items():
        course = s.courses[course_id]
        if course.pattern != "spread":
            continue
        days = {ss.day for ss in sessions if ss.day is not None}
        short = course.wanted_days - len(days)
        if short > 0:
            costs.append(
                Cost(
                    term="min_days",
                    cost=weights.min_days * short,
                    message=f"{label(course)} meets on {len(days)} distinct day(s), "
                    f"{short} fewer than the {course.wanted_days} wanted",
                    course=course.id,
                )
            )
    return costs


def compactness_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """A cohort's session with nothing of theirs just before or after it that day pays."""
    ppd = s.grid.periods_per_day
    busy: dict[str, set[int]] = defaultdict(set)  # cohort -> its busy slots
    for ss in s.sessions:
        for q in ss.course.cohorts:
            busy[q].update(ss.slots)
    costs = []
    for ss in s.sessions:
        p, length = ss.placement, ss.course.length
        if not ss.slots or length >= ppd:
            continue
        for q in dict.fromkeys(ss.course.cohorts):
            before = p.period > 0 and ss.start - 1 in busy[q]
            after = p.period + length < ppd and ss.start + length in busy[q]
            if not before and not after:
                costs.append(
                    Cost(
                        term="compactness",
                        cost=weights.compactness,
                        message=f"cohort {q} has {label(ss.course)} {s.when_session(ss)} "
                        "with nothing just before or after it that day",
                        course=ss.course.id,
                        session=p.session,
                    )
                )
    return costs


def stability_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """A course pays per site it uses beyond the first."""
    costs = []
    for course_id, sessions in s.by_course().items():
        sites = sorted({ss.placement.site for ss in sessions})
        if len(sites) > 1:
            costs.append(
                Cost(
                    term="stability",
                    cost=weights.stability * (len(sites) - 1),
                    message=f"{label(s.courses[course_id])} uses {len(sites)} sites "
                    f"({', '.join(sites)})",
                    course=course_id,
                )
            )
    return costs


def density_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """A unit pays per cadre away over its cap, at its busiest slot."""
    capped = {u.id: u for u in s.units.values() if u.away_cap is not None}
    away: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    held: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))  # courses
    sent: dict[str, list[tuple[str, str]]] = {}  # course -> (unit, cohort) of capped units
    for course in s.courses.values():
        pairs = [(s.cohorts[q].unit, q) for q in course.cohorts if q in s.cohorts]
        sent[course.id] = [(u, q) for u, q in pairs if u in capped]
    for ss in s.sessions:
        for u, q in sent[ss.course.id]:
            by_slot, courses = away[u], held[u]
            for slot in ss.slots:
                by_slot[slot].add(q)
                courses[slot].add(ss.course.id)
    costs = []
    for unit_id, by_slot in away.items():
        unit = capped[unit_id]
        cap = math.floor((unit.away_cap or 0.0) * unit.headcount + 1e-9)
        sizes = {slot: sum(s.cohorts[q].size for q in cohorts) for slot, cohorts in by_slot.items()}
        size, slot = max((n, slot) for slot, n in sizes.items())
        if size > cap:
            peaks = [t for t, n in sizes.items() if n == size]
            costs.append(
                Cost(
                    term="density",
                    cost=weights.density * (size - cap),
                    message=f"unit {unit_id} has {size} cadres away {s.when_slot(slot)}, "
                    f"{size - cap} over its cap of {cap}",
                    courses=sorted({c for t in peaks for c in held[unit_id][t]}),
                )
            )
    return costs


def load_peak_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """The plan pays per session running at its busiest slot, to spread load across the year."""
    running = Counter(slot for ss in s.sessions for slot in ss.slots)
    if not running:
        return []
    peak, slot = max((n, -slot) for slot, n in running.items())
    peaks = {t for t, n in running.items() if n == peak}
    return [
        Cost(
            term="load_peak",
            cost=weights.load_peak * peak,
            message=f"{peak} session(s) run at once {s.when_slot(-slot)}, the busiest time",
            courses=sorted({ss.course.id for ss in s.sessions if not peaks.isdisjoint(ss.slots)}),
        )
    ]


def trainer_load_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """A trainer pays per session over their weekly and monthly limits."""
    grid = s.grid
    periods = (
        ("week", "max_sessions_per_week", grid.week_of_day),
        ("month", "max_sessions_per_month", grid.month_of_day),
    )
    costs = []
    for name, limit_field, bucket_of_day in periods:
        taught: dict[tuple[str, int], list[int]] = defaultdict(list)
        courses: dict[tuple[str, int], set[str]] = defaultdict(set)
        for ss in s.sessions:
            trainer = s.trainers.get(ss.placement.trainer)
            if ss.day is not None and trainer and getattr(trainer, limit_field) is not None:
                taught[(trainer.id, bucket_of_day[ss.day])].append(ss.day)
                courses[(trainer.id, bucket_of_day[ss.day])].add(ss.course.id)
        starts: dict[int, int] = {}
        for day, bucket in enumerate(bucket_of_day):
            starts.setdefault(bucket, day)
        for (trainer_id, bucket), days in taught.items():
            limit: int = getattr(s.trainers[trainer_id], limit_field)
            over = len(days) - limit
            if over > 0:
                start = day_label(grid.day_ref(starts[bucket]))
                costs.append(
                    Cost(
                        term="trainer_load",
                        cost=weights.trainer_load * over,
                        message=f"trainer {trainer_id} teaches {len(days)} sessions in the {name} "
                        f"from {start}, {over} over their limit of {limit}",
                        courses=sorted(courses[(trainer_id, bucket)]),
                    )
                )
    return costs


def preferred_site_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """A session of a course with preferred sites pays when held elsewhere."""
    return [
        Cost(
            term="preferred_site",
            cost=weights.preferred_site,
            message=f"{s.held_at(ss)}, not at a preferred one "
            f"({', '.join(ss.course.preferred_sites)})",
            course=ss.course.id,
            session=ss.placement.session,
        )
        for ss in s.sessions
        if ss.course.preferred_sites and ss.placement.site not in ss.course.preferred_sites
    ]


def perturbation_multiplier(day: DayRef, policy: RepairPolicy) -> int:
    """10 for a session moved today, falling to 1 for one `near_days` or more ahead."""
    ahead = None if policy.now is None else days_from(policy.now, day)
    if ahead is None:
        return 1
    near = policy.near_days
    return 1 + (9 * max(0, near - max(0, ahead))) // near


def perturbation_costs(s: Schedule, weights: Weights, policy: RepairPolicy) -> list[Cost]:
    """Each published session not kept at its day, period, site and trainer pays, more if soon."""
    if s.problem.previous is None:
        return []
    kept = {(p.course, p.day, p.period, p.site, p.trainer) for p in s.placements}
    costs = []
    for prev in s.problem.previous:
        course = s.courses.get(prev.course)
        if course is None or (prev.course, prev.day, prev.period, prev.site, prev.trainer) in kept:
            continue
        multiplier = perturbation_multiplier(prev.day, policy)
        costs.append(
            Cost(
                term="perturbation",
                cost=weights.perturbation * multiplier,
                message=f"{label(course)} moved from {s.when(prev.day, prev.period)} at site "
                f"{prev.site} with trainer {prev.trainer} (x{multiplier})",
                course=course.id,
                session=prev.session,
            )
        )
    return costs


def unscheduled_costs(s: Schedule, weights: Weights) -> list[Cost]:
    """A course left out (one not required) pays its priority."""
    return [
        Cost(
            term="unscheduled",
            cost=weights.unscheduled * s.courses[c].priority,
            message=f"{label(s.courses[c])} is left out (priority {s.courses[c].priority})",
            course=c,
        )
        for c in unscheduled_courses(s.problem, s.placements)
        if not s.courses[c].required
    ]
