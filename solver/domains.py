"""Where each session may start, and why not elsewhere.

Every hard rule that only limits *when* something may happen (course windows, hard blackouts,
site closures, trainer unavailability) becomes a `Restriction`: a named set of allowed start
slots with the words that explain it. The fast model intersects them into variable domains;
the explanation model guards each one with an assumption literal, so a conflict can be told in
the planner's words.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from solver.grid import TimeGrid
from solver.problem import Blackout, Course, Problem, Site, Weights, Window
from solver.wording import course_text, dates_text, window_text


@dataclass(frozen=True)
class Restriction:
    """A named hard limit on start slots (of one session, or of a block's first session)."""

    key: str
    message: str
    allowed: frozenset[int]


@dataclass
class CourseDomains:
    """The start restrictions of one course and of each of its site and trainer options.

    Starts are those of session 0 for a block (its later sessions follow day by day) and of
    any session for a spread course.
    """

    course: Course
    base: frozenset[int]  # starts at working time (whole session inside one working day)
    time: list[Restriction] = field(default_factory=list)
    sites: dict[str, list[Restriction]] = field(default_factory=dict)
    trainers: dict[str, list[Restriction]] = field(default_factory=dict)

    def starts(self) -> frozenset[int]:
        return intersect(self.base, self.time)

    def site_starts(self, site: str) -> frozenset[int]:
        return intersect(self.starts(), self.sites.get(site, []))

    def site_allows(self, site: str, start: int) -> bool:
        """Whether `start` is in `site_starts(site)` (and the site allowed), without building it."""
        restrictions = self.sites.get(site)
        return (
            restrictions is not None
            and start in self.base
            and all(start in r.allowed for r in self.time)
            and all(start in r.allowed for r in restrictions)
        )

    def trainer_allows(self, trainer: str, start: int) -> bool:
        """Whether the trainer is qualified and may teach a session starting at `start`."""
        restrictions = self.trainers.get(trainer)
        return restrictions is not None and all(start in r.allowed for r in restrictions)


def intersect(base: frozenset[int], restrictions: Iterable[Restriction]) -> frozenset[int]:
    out = base
    for r in restrictions:
        out = out & r.allowed
    return out


class DomainBuilder:
    """Computes restrictions once per window and per course; shared by the construction, the
    bounds, every neighbourhood model and the explanation of one solve (on a province's plan,
    computing them again for each took seconds)."""

    def __init__(self, problem: Problem, grid: TimeGrid) -> None:
        self.problem = problem
        self.grid = grid
        self._window_cache: dict[tuple[object, ...], frozenset[int]] = {}
        self._free_cache: dict[tuple[frozenset[int], int], frozenset[int]] = {}
        self._days: dict[tuple[int, int, int], frozenset[int]] = {}
        self._block: dict[tuple[int, frozenset[int]], frozenset[int]] = {}
        self._inside: dict[tuple[str, int], frozenset[int]] = {}
        self._courses: dict[str, CourseDomains] = {}
        self._site: dict[tuple[str, int, int], list[Restriction]] = {}
        self._trainer: dict[tuple[str, int], list[Restriction]] = {}
        cohort_unit = {q.id: q.unit for q in problem.cohorts}
        self._cohort_unit = cohort_unit
        # Hard blackouts by what they name, with their index (their restriction's key): each
        # course looks up its own instead of testing every blackout of the plan (hundreds on a
        # province's plan, for each of thousands of courses).
        self._time_keys: dict[str, tuple[Course, frozenset[tuple[str, str | None]]]] = {}
        self._hard: dict[tuple[str, str | None], list[tuple[int, Blackout]]] = {}
        for i, b in enumerate(problem.blackouts):
            if b.hard:
                self._hard.setdefault((b.scope, b.target), []).append((i, b))

    def covered(self, window: Window) -> frozenset[int]:
        periods = None if window.periods is None else tuple(window.periods)
        key = (window.first, window.last, periods)
        if key not in self._window_cache:
            self._window_cache[key] = frozenset(self.grid.window_slots(window))
        return self._window_cache[key]

    def working_starts(self, length: int) -> frozenset[int]:
        return self.days_starts(0, self.grid.n_days - 1, length)

    def days_starts(self, first: int, last: int, length: int) -> frozenset[int]:
        """Starts of sessions lying within working days `first`..`last`."""
        key = (first, last, length)
        if key not in self._days:
            ppd = self.grid.periods_per_day
            slots = range(first * ppd, (last + 1) * ppd)
            self._days[key] = frozenset(
                slots if length == 1 else (s for s in slots if s % ppd <= ppd - length)
            )
        return self._days[key]

    def starts_avoiding(self, bad: frozenset[int], length: int) -> frozenset[int]:
        """Working-time starts whose session touches none of the `bad` slots."""
        key = (bad, length)
        if key not in self._free_cache:
            hit = {s - k for s in bad for k in range(length)}
            self._free_cache[key] = self.working_starts(length) - hit
        return self._free_cache[key]

    def starts_inside(self, good: frozenset[int], length: int) -> frozenset[int]:
        """Working-time starts whose session lies entirely inside the `good` slots."""
        return frozenset(
            s for s in self.working_starts(length) if all(s + k in good for k in range(length))
        )

    def time_keys(self, course: Course) -> frozenset[tuple[str, str | None]]:
        """What a blackout names when it limits the course's time whatever its site and
        trainer: the plan, the course, its cohorts and their units (once per course: a model
        asks for each soft blackout and session)."""
        known = self._time_keys.get(course.id)
        if known is not None and known[0] is course:
            return known[1]
        units = {self._cohort_unit[q] for q in course.cohorts if q in self._cohort_unit}
        keys: set[tuple[str, str | None]] = {("plan", None), ("course", course.id)}
        keys |= {("cohort", q) for q in course.cohorts}
        keys |= {("unit", u) for u in units}
        self._time_keys[course.id] = (course, frozenset(keys))
        return self._time_keys[course.id][1]

    def hard_blackouts_in_time(self, course: Course) -> list[tuple[int, Blackout]]:
        """The hard blackouts that limit the course's time, with their indexes, in the plan's
        order."""
        return sorted(x for key in self.time_keys(course) for x in self._hard.get(key, []))

    def for_block(self, course: Course, allowed: frozenset[int]) -> frozenset[int]:
        """Block starts whose every session start is allowed."""
        if course.pattern != "block":
            return allowed
        key = (course.sessions, allowed)
        if key not in self._block:
            step = self.grid.periods_per_day
            self._block[key] = frozenset(
                b
                for b in allowed
                if all(b + k * step in allowed for k in range(1, course.sessions))
            )
        return self._block[key]

    def course_domains(self, course: Course) -> CourseDomains:
        """The course's domains (computed once per builder: the problem does not change)."""
        dom = self._courses.get(course.id)
        if dom is None or dom.course is not course:
            dom = self._course_domains(course)
            self._courses[course.id] = dom
        return dom

    def _course_domains(self, course: Course) -> CourseDomains:
        grid, length = self.grid, course.length
        # A block's sessions are on consecutive working days: it starts where its last day
        # still lies within the days (the same as `for_block` of the days' starts, uncomputed).
        tail = course.sessions - 1 if course.pattern == "block" else 0
        base = self.days_starts(0, grid.n_days - 1 - tail, length)
        dom = CourseDomains(course=course, base=base)
        name = course_text(course)
        if course.earliest is not None or course.latest is not None:
            lo = 0 if course.earliest is None else grid.first_day_from(course.earliest)
            hi = grid.n_days - 1 if course.latest is None else grid.last_day_until(course.latest)
            allowed = self.days_starts(lo, hi - tail, length)
            if course.earliest is not None and course.latest is not None:
                span = dates_text(course.earliest, course.latest)
                text = f"{name} must be held {span}"
            elif course.latest is not None:
                text = f"{name} must end by {dates_text(course.latest, course.latest)}"
            else:
                assert course.earliest is not None
                text = f"{name} may not start before {dates_text(course.earliest, course.earliest)}"
            dom.time.append(Restriction(f"window:{course.id}", text, allowed))
        for i, b in self.hard_blackouts_in_time(course):
            allowed = self.for_block(course, self.starts_avoiding(self.covered(b.window), length))
            dom.time.append(Restriction(f"blackout:{i}", blackout_text(b, self.grid), allowed))
        for site_id in self.problem.allowed_sites(course):
            dom.sites[site_id] = self.site_restrictions(course, site_id)
        for trainer_id in self.problem.qualified_trainers(course):
            dom.trainers[trainer_id] = self.trainer_restrictions(course, trainer_id)
        return dom

    def site_restrictions(self, course: Course, site_id: str) -> list[Restriction]:
        """Restrictions of a site on block (or session) starts; they depend on the course's
        shape only, so courses of one shape share them."""
        shape = course.sessions if course.pattern == "block" else 0
        key = (site_id, course.length, shape)
        if key not in self._site:
            self._site[key] = self._site_restrictions(course, site_id)
        return self._site[key]

    def _site_restrictions(self, course: Course, site_id: str) -> list[Restriction]:
        site = self.problem.site_by_id[site_id]
        out: list[Restriction] = []
        length = course.length
        if site.open:
            key = (site_id, length)
            if key not in self._inside:
                good = frozenset().union(*(self.covered(w) for w in site.open))
                self._inside[key] = self.starts_inside(good, length)
            allowed = self.for_block(course, self._inside[key])
            spans = "; ".join(window_text(self.grid, w) for w in site.open)
            out.append(
                Restriction(f"site-open:{site_id}", f"site {site_id} is open only {spans}", allowed)
            )
        for j, w in enumerate(site.closures):
            allowed = self.for_block(course, self.starts_avoiding(self.covered(w), length))
            why = f" ({w.reason})" if w.reason else ""
            text = f"site {site_id} is closed {window_text(self.grid, w)}{why}"
            out.append(Restriction(f"site-closed:{site_id}:{j}", text, allowed))
        for i, b in self._hard.get(("site", site_id), []):
            allowed = self.for_block(course, self.starts_avoiding(self.covered(b.window), length))
            out.append(Restriction(f"blackout:{i}", blackout_text(b, self.grid), allowed))
        return out

    def trainer_restrictions(self, course: Course, trainer_id: str) -> list[Restriction]:
        """Restrictions of a trainer on session starts (they depend on the length only)."""
        key = (trainer_id, course.length)
        if key not in self._trainer:
            self._trainer[key] = self._trainer_restrictions(course, trainer_id)
        return self._trainer[key]

    def _trainer_restrictions(self, course: Course, trainer_id: str) -> list[Restriction]:
        trainer = self.problem.trainer_by_id[trainer_id]
        out: list[Restriction] = []
        length = course.length
        # Trainers are chosen per session, so these limit session starts (not block starts).
        for j, w in enumerate(trainer.unavailable):
            allowed = self.starts_avoiding(self.covered(w), length)
            why = f" ({w.reason})" if w.reason else ""
            text = f"trainer {trainer_id} is unavailable {window_text(self.grid, w)}{why}"
            out.append(Restriction(f"unavailable:{trainer_id}:{j}", text, allowed))
        for i, b in self._hard.get(("trainer", trainer_id), []):
            allowed = self.starts_avoiding(self.covered(b.window), length)
            out.append(Restriction(f"blackout:{i}", blackout_text(b, self.grid), allowed))
        return out


def blackout_text(blackout: Blackout, grid: TimeGrid) -> str:
    who = "everyone" if blackout.scope == "plan" else f"{blackout.scope} {blackout.target}"
    reason = blackout.reason or blackout.window.reason
    why = f" ({reason})" if reason else ""
    return f"{who} may not train {window_text(grid, blackout.window)}{why}"


# Soft blackouts by what they name ((scope, target) -> (slots covered, cost per session)).
Costed = list[tuple[frozenset[int], int]]
Named = dict[tuple[str, str | None], Costed]


def soft_blackouts(problem: Problem, builder: DomainBuilder, weights: Weights) -> Named:
    """The plan's soft blackouts that cost something, indexed by what they name: matching
    each to each course is slow on a national plan (10,000 courses, hundreds of blackouts).
    For the bound's start prices and the local search's session prices alike."""
    named: Named = defaultdict(list)
    for b in problem.blackouts:
        cost = weights.soft_blackout if b.weight is None else b.weight
        if not b.hard and cost:
            named[(b.scope, b.target)].append((builder.covered(b.window), cost))
    return named


def site_charge(weights: Weights, course: Course, site: Site, attendance: int) -> int:
    """What each session of the course pays at the site whatever its time: seats over a soft
    capacity and a site it does not prefer (the checker's capacity_overflow and
    preferred_site terms), for the construction, the bound and the search to price alike."""
    over = 0 if site.capacity_hard else max(0, attendance - site.capacity)
    liked = not course.preferred_sites or site.id in course.preferred_sites
    return weights.capacity_overflow * over + (0 if liked else weights.preferred_site)
