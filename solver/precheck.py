"""Pre-checks: reasons, in a planner's words, that a plan cannot be solved as given.

Each check is a necessary condition of the hard rules in spec.md, worked out on its own (no
solver), so a fatal finding is never wrong; passing every check does not promise a schedule.
Time is handled as bitmasks over slots (bit s = slot s): plans with 10,000 courses and hundreds
of trainers then take a moment, not minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from solver.grid import TimeGrid
from solver.problem import (
    Blackout,
    Cohort,
    Course,
    DayRef,
    Pin,
    Problem,
    Site,
    Trainer,
    Unit,
    Window,
)
from solver.wording import (
    Named,
    course_text,
    date_text,
    dates_text,
    entity_text,
    periods_text,
    slot_text,
    span_text,
    window_text,
)

_LISTED = 3  # trainers/sites named one by one in a message; more are counted


@dataclass(frozen=True)
class Finding:
    """One pre-check result. `fatal`: the course (or, with no course, the plan) cannot be
    scheduled as given; a required course then makes the plan infeasible, an optional one
    will be left unscheduled."""

    rule: str
    message: str
    course: str | None
    fatal: bool


# --- slot masks -------------------------------------------------------------------------------


def _days_mask(grid: TimeGrid, first: int, last: int, day: int | None = None) -> int:
    """Slots of working days first..last; `day` is the mask of periods taken on each day."""
    if last < first:
        return 0
    ppd = grid.periods_per_day
    one_day = (1 << ppd) - 1 if day is None else day
    repeat = ((1 << ((last - first + 1) * ppd)) - 1) // ((1 << ppd) - 1)  # bit 0 of each day
    return (one_day * repeat) << (first * ppd)


def window_mask(grid: TimeGrid, window: Window) -> int:
    """The slots of `grid.window_slots(window)`, as a mask."""
    ppd = grid.periods_per_day
    first, last = grid.first_day_from(window.first), grid.last_day_until(window.last)
    if window.periods is None:
        return _days_mask(grid, first, last)
    day = sum(1 << p for p in set(window.periods) if p < ppd)
    return _days_mask(grid, first, last, day)


def _slots(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _starts(grid: TimeGrid, free: int, length: int) -> int:
    """Start slots of a session of `length` periods lying inside `free` and inside one day."""
    ppd = grid.periods_per_day
    if length > ppd:
        return 0
    out = free & _days_mask(grid, 0, grid.n_days - 1, (1 << (ppd - length + 1)) - 1)
    for k in range(1, length):
        out &= free >> k
    return out


def _block_starts(grid: TimeGrid, starts: int, sessions: int) -> int:
    """Starts from which a session can begin at the same period on `sessions` working days."""
    ppd, out = grid.periods_per_day, starts
    for k in range(1, sessions):
        if not out:
            break
        out &= starts >> (k * ppd)
    return out


def _longest_run(grid: TimeGrid, starts: int, limit: int) -> int:
    """Most consecutive working days with a start at one same period (at most `limit`)."""
    ppd, run, days = grid.periods_per_day, starts, 0
    while run and days < limit:
        days += 1
        run &= starts >> (days * ppd)
    return days


def _disjoint_sessions(starts: int, length: int, limit: int) -> int:
    """How many non-overlapping sessions fit (earliest-first is optimal for equal lengths)."""
    count = 0
    while starts and count < limit:
        end = (starts & -starts).bit_length() - 1 + length
        starts = (starts >> end) << end
        count += 1
    return count


def _room(grid: TimeGrid, course: Course, starts: int) -> int:
    """Consecutive days (block) or sessions (spread) the course finds room for, up to its need."""
    if course.pattern == "block":
        return _longest_run(grid, starts, course.sessions)
    return _disjoint_sessions(starts, course.length, course.sessions)


def _fits(grid: TimeGrid, course: Course, starts: int) -> bool:
    return _room(grid, course, starts) >= course.sessions


def _block_cover(grid: TimeGrid, first: int, sessions: int) -> int:
    """Session starts of the blocks whose session 0 starts in `first`."""
    out = 0
    for k in range(sessions):
        out |= first << (k * grid.periods_per_day)
    return out


def _occupied(starts: int, length: int) -> int:
    """Every slot a session starting in `starts` would occupy."""
    out = 0
    for k in range(length):
        out |= starts << k
    return out


# --- what is free when --------------------------------------------------------------------------


@dataclass
class Availability:
    """The plan's hard limits in time as slot masks, and its lookups, computed once per plan."""

    problem: Problem
    grid: TimeGrid
    hard_blackouts: dict[tuple[str, str | None], list[tuple[Blackout, int]]]
    trainer_free: dict[str, int]
    site_free: dict[str, int]
    # free mask -> (a site with soft capacity, largest hard capacity): sites grouped by open time
    site_groups: dict[int, tuple[bool, int]]
    courses: dict[str, Course]
    sites: dict[str, Site]
    trainers: dict[str, Trainer]
    units: dict[str, Unit]
    cohorts: dict[str, Cohort]
    by_topic: dict[str, list[str]]
    _starts_cache: dict[tuple[object, ...], int] = field(default_factory=dict)

    @staticmethod
    def of(problem: Problem, grid: TimeGrid) -> Availability:
        everything = (1 << grid.n_slots) - 1
        hard: dict[tuple[str, str | None], list[tuple[Blackout, int]]] = {}
        for b in problem.blackouts:
            if b.hard:
                hard.setdefault((b.scope, b.target), []).append((b, window_mask(grid, b.window)))

        def blocked(scope: str, target: str) -> int:
            return _union(m for _, m in hard.get((scope, target), []))

        trainer_free = {
            t.id: everything
            & ~_union(window_mask(grid, w) for w in t.unavailable)
            & ~blocked("trainer", t.id)
            for t in problem.trainers
        }
        site_free: dict[str, int] = {}
        groups: dict[int, tuple[bool, int]] = {}
        for s in problem.sites:
            opened = _union(window_mask(grid, w) for w in s.open) if s.open else everything
            closed = _union(window_mask(grid, w) for w in s.closures) | blocked("site", s.id)
            site_free[s.id] = opened & ~closed
            soft, cap = groups.get(site_free[s.id], (False, -1))
            hard_cap = s.capacity if s.capacity_hard else -1
            groups[site_free[s.id]] = (soft or not s.capacity_hard, max(cap, hard_cap))
        by_topic: dict[str, list[str]] = {}
        for t in problem.trainers:
            for topic in dict.fromkeys(t.topics):
                by_topic.setdefault(topic, []).append(t.id)
        return Availability(
            problem=problem,
            grid=grid,
            hard_blackouts=hard,
            trainer_free=trainer_free,
            site_free=site_free,
            site_groups=groups,
            courses={c.id: c for c in problem.courses},
            sites={s.id: s for s in problem.sites},
            trainers={t.id: t for t in problem.trainers},
            units={u.id: u for u in problem.units},
            cohorts={q.id: q for q in problem.cohorts},
            by_topic=by_topic,
        )

    def qualified(self, course: Course) -> list[str]:
        """Known trainers who may teach the course (Problem.qualified_trainers, indexed)."""
        if course.trainer is not None:
            return [course.trainer] if course.trainer in self.trainers else []
        return self.by_topic.get(course.topic or "", [])

    def allowed_sites(self, course: Course) -> list[Site]:
        if not course.sites:
            return list(self.sites.values())
        return [self.sites[s] for s in course.sites if s in self.sites]

    def attendance(self, course: Course) -> int:
        if course.attendance is not None:
            return course.attendance
        return sum(self.cohorts[q].size for q in course.cohorts if q in self.cohorts)

    def time_blackouts(self, course: Course) -> list[tuple[Blackout, int]]:
        """Hard blackouts that apply to every session of the course, whatever site or trainer."""
        keys: list[tuple[str, str | None]] = [("plan", None), ("course", course.id)]
        keys += [("cohort", q) for q in course.cohorts]
        units = {self.cohorts[q].unit for q in course.cohorts if q in self.cohorts}
        keys += [("unit", u) for u in sorted(units)]
        return [item for key in keys for item in self.hard_blackouts.get(key, [])]

    def window(self, course: Course) -> tuple[int, int]:
        """First and last working day of the course's window (last < first when it has none)."""
        grid = self.grid
        first = 0 if course.earliest is None else grid.first_day_from(course.earliest)
        last = grid.n_days - 1 if course.latest is None else grid.last_day_until(course.latest)
        return first, last

    def window_slots(self, course: Course) -> int:
        return _days_mask(self.grid, *self.window(course))

    def window_starts(self, course: Course) -> int:
        """Starts of any one session inside the window, blackouts aside."""
        return _starts(self.grid, self.window_slots(course), course.length)

    def session_starts(self, course: Course) -> int:
        """Starts of any one session inside the window, clear of hard blackouts in time."""
        blocked = _union(m for _, m in self.time_blackouts(course))
        return _starts(self.grid, self.window_slots(course) & ~blocked, course.length)

    def trainer_starts(self, course: Course) -> int:
        """Starts at which at least one qualified trainer is free for the whole session."""
        key = ("trainer", course.trainer, course.topic, course.length)
        if key not in self._starts_cache:
            self._starts_cache[key] = _union(
                _starts(self.grid, self.trainer_free[t], course.length)
                for t in self.qualified(course)
            )
        return self._starts_cache[key]

    def site_starts(self, course: Course) -> list[int]:
        """Per distinct open time of the allowed sites that seat the course: its session starts."""
        attendance = self.attendance(course)
        if course.sites:
            masks = {
                self.site_free[s.id] for s in self.allowed_sites(course) if _seats(s, attendance)
            }
        else:
            masks = {m for m, (soft, cap) in self.site_groups.items() if soft or cap >= attendance}
        return [self._site_mask_starts(m, course.length) for m in masks]

    def _site_mask_starts(self, mask: int, length: int) -> int:
        key = ("site", mask, length)
        if key not in self._starts_cache:
            self._starts_cache[key] = _starts(self.grid, mask, length)
        return self._starts_cache[key]


def _union(masks: Iterable[int]) -> int:
    out = 0
    for m in masks:
        out |= m
    return out


def _seats(site: Site, attendance: int) -> bool:
    """The site may take the course: its capacity is soft, or large enough."""
    return not site.capacity_hard or site.capacity >= attendance


# --- start domains (for the model) --------------------------------------------------------------


def start_slots(
    problem: Problem, grid: TimeGrid, course: Course, free: Availability | None = None
) -> list[int]:
    """Slots where session 0 may start: inside the window and working time, clear of hard
    blackouts of plan/unit/cohort/course scope, and for a block with room for every session
    on the following working days. Sites and trainers are not considered.

    Pass `free` (Availability.of(problem, grid)) when calling this for many courses.
    """
    free = free or Availability.of(problem, grid)
    starts = free.session_starts(course)
    if course.pattern == "block":
        starts = _block_starts(grid, starts, course.sessions)
    return list(_slots(starts))


def start_days(
    problem: Problem, grid: TimeGrid, course: Course, free: Availability | None = None
) -> list[int]:
    """Working days on which session 0 may start (see `start_slots`)."""
    ppd = grid.periods_per_day
    return sorted({s // ppd for s in start_slots(problem, grid, course, free)})


# --- the checks ---------------------------------------------------------------------------------


def precheck(problem: Problem, grid: TimeGrid) -> list[Finding]:
    """Every pre-check finding of the plan: courses first, then pins, then overloads.

    Expects a problem without `reference_errors`; unknown ids are skipped, not reported.
    """
    free = Availability.of(problem, grid)
    findings: list[Finding] = []
    reach: dict[str, int] = {}  # course -> session starts a whole placement could use
    for course in problem.courses:
        course_findings, starts = _course_findings(free, course)
        findings += course_findings
        if not any(f.fatal for f in course_findings):
            reach[course.id] = starts
    findings += [f for pin in problem.pins for f in _pin_findings(free, pin)]
    findings += _block_pins_findings(free)
    findings += _cohort_overloads(free, reach)
    findings += _trainer_overloads(free, reach)
    return findings


def _course_findings(free: Availability, course: Course) -> tuple[list[Finding], int]:
    """Findings of one course, and the session starts left once time, trainers and sites agree.

    Each stage runs only if the previous ones leave room: once a window is blacked out, whether
    a trainer is free in it says nothing new.
    """
    grid = free.grid
    if course.length > grid.periods_per_day:
        message = (
            f"course {course_text(course)} has sessions of {periods_text(grid, course.length)},"
            f" longer than a working day ({periods_text(grid, grid.periods_per_day)})"
        )
        return [Finding("length", message, course.id, True)], 0
    found = _window_findings(free, course)
    found += _qualified_findings(free, course) + _capacity_findings(free, course)
    if any(f.fatal for f in found):
        return found, 0
    starts = free.session_starts(course)
    trainers = free.trainer_starts(course)
    sites = free.site_starts(course)
    found += _trainer_free_findings(free, course, trainers)
    found += _site_open_findings(free, course, sites)
    if any(f.fatal for f in found):
        return found, 0
    reach = _reach(grid, course, starts & trainers, sites)
    if not _fits(grid, course, reach):
        found.append(_no_common_time(free, course, trainers, sites))
    elif course.pattern == "spread":
        found += _min_days_findings(free, course, reach)
    return found, reach


def _reach(grid: TimeGrid, course: Course, starts: int, site_starts: list[int]) -> int:
    """Session starts some whole placement could use: a block keeps one site all its days."""
    if course.pattern == "spread":
        return starts & _union(site_starts)
    n = course.sessions
    return _union(_block_cover(grid, _block_starts(grid, starts & s, n), n) for s in site_starts)


def _span(free: Availability, course: Course) -> str:
    """The course's window in words: its working days, or the dates given when it has none."""
    first, last = free.window(course)
    if first <= last:
        return span_text(free.grid, first, last)
    calendar = free.problem.calendar
    plan_first: DayRef = calendar.first_date or 0
    plan_last: DayRef = calendar.last_date or (calendar.days or 1) - 1
    start = plan_first if course.earliest is None else course.earliest
    return dates_text(start, plan_last if course.latest is None else course.latest)


def _head(free: Availability, course: Course) -> str:
    return f"course {course_text(course)} must be taught {_span(free, course)}"


def _shortfall(course: Course, room: int) -> str:
    """'for at most 3 consecutive working days, and the course needs 5' and the like."""
    if course.pattern == "block":
        return (
            f"for at most {room} consecutive working days, and the course needs {course.sessions}"
        )
    return f"for only {room} of the course's {course.sessions} sessions"


def _free_in_it(course: Course, room: int, word: str = "free") -> str:
    """'never free in it', or 'free in it' and the shortfall."""
    return f"never {word} in it" if room == 0 else f"{word} in it {_shortfall(course, room)}"


def _details(names_reasons: list[tuple[str, str]]) -> str:
    """'; t-1 is unavailable 1–5 Mar 2027; t-2 is ...' for those with a reason to give."""
    return "".join(f"; {name} is {reasons}" for name, reasons in names_reasons if reasons)


def _why(reason: str) -> str:
    return f" ({reason})" if reason else ""


def _listed(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c', 'a, b, c and 4 more'."""
    if len(names) > _LISTED:
        return f"{', '.join(names[:_LISTED])} and {len(names) - _LISTED} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _blackout_text(free: Availability, blackout: Blackout) -> str:
    """ "unit 'Datong county' (u-3) is blacked out 1 Apr–31 Oct 2027 (construction season)"."""
    if blackout.scope == "plan":
        who = "the whole plan"
    elif blackout.scope == "course":
        who = "the course"
    else:
        indexes: dict[str, Mapping[str, Named]] = {
            "unit": free.units,
            "cohort": free.cohorts,
            "site": free.sites,
            "trainer": free.trainers,
        }
        entity = indexes[blackout.scope].get(blackout.target or "")
        who = f"{blackout.scope} {entity_text(entity) if entity else blackout.target}"
    label = f" [{blackout.id}]" if blackout.id else ""
    when = window_text(free.grid, blackout.window)
    return f"{who} is blacked out {when}{_why(blackout.reason or blackout.window.reason)}{label}"


def _window_findings(free: Availability, course: Course) -> list[Finding]:
    """The window holds no working day, or too few, or too few once hard blackouts are out."""
    grid = free.grid
    first, last = free.window(course)
    if first > last:
        message = f"{_head(free, course)}, but there is no working day in it"
        return [Finding("no_working_day", message, course.id, True)]
    window = free.window_slots(course)
    plain = _starts(grid, window, course.length)
    if not _fits(grid, course, plain):
        days = last - first + 1
        head = f"{_head(free, course)} ({days} working day{'s' if days > 1 else ''})"
        n, length = course.sessions, periods_text(grid, course.length)
        if course.pattern == "block":
            message = f"{head}, but it runs {n} consecutive working days"
        else:
            room = _room(grid, course, plain)
            message = f"{head}, but only {room} of its {n} sessions of {length} fit in it"
        return [Finding("window_too_short", message, course.id, True)]
    starts = free.session_starts(course)
    if _fits(grid, course, starts):
        return []
    texts = "; ".join(_blackout_text(free, b) for b, m in free.time_blackouts(course) if m & window)
    if starts:
        room = _room(grid, course, starts)
        texts = f"hard blackouts leave it free {_shortfall(course, room)}: {texts}"
    return [Finding("blacked_out", f"{_head(free, course)}, but {texts}", course.id, True)]


def _qualified_findings(free: Availability, course: Course) -> list[Finding]:
    if free.qualified(course):
        return []
    c = course_text(course)
    if course.trainer is not None:
        message = f"course {c} is to be taught by {course.trainer}, who is not in the plan"
    else:
        message = f"course {c} has topic '{course.topic}', which no trainer teaches"
    return [Finding("no_trainer", message, course.id, True)]


def _capacity_findings(free: Availability, course: Course) -> list[Finding]:
    """Too many trainees for every allowed site: fatal when all their capacities are hard."""
    attendance = free.attendance(course)
    allowed = free.allowed_sites(course)
    c = course_text(course)
    if not allowed:
        return [Finding("no_site", f"course {c} has no site it may use", course.id, True)]
    if max(s.capacity for s in allowed) >= attendance:
        return []
    if all(s.capacity_hard for s in allowed):
        largest = max(allowed, key=lambda s: s.capacity)
        which = "its only allowed site" if len(allowed) == 1 else "the largest site it may use"
        message = (
            f"course {c} has {attendance} trainees, but {which},"
            f" {entity_text(largest)}, seats {largest.capacity}"
        )
        return [Finding("capacity", message, course.id, True)]
    soft = max((s for s in allowed if not s.capacity_hard), key=lambda s: s.capacity)
    message = (
        f"course {c} has {attendance} trainees, more than any site it may use seats; at best"
        f" it goes {attendance - soft.capacity} over the capacity of {entity_text(soft)}"
    )
    return [Finding("capacity_overflow", message, course.id, False)]


def _trainer_reasons(free: Availability, trainer: Trainer, window: int) -> str:
    """Why a trainer is not free within `window`: 'unavailable 1–5 Mar 2027 (mission)'."""
    grid = free.grid
    out = [
        f"unavailable {window_text(grid, w)}{_why(w.reason)}"
        for w in trainer.unavailable
        if window_mask(grid, w) & window
    ]
    out += [
        f"blacked out {window_text(grid, b.window)}{_why(b.reason or b.window.reason)}"
        for b, m in free.hard_blackouts.get(("trainer", trainer.id), [])
        if m & window
    ]
    return " and ".join(out)


def _blackouts_too(free: Availability, course: Course, fits_without: bool) -> str:
    """'; unit X is blacked out ...' when the course's own hard blackouts are part of the reason."""
    if not fits_without:
        return ""
    window = free.window_slots(course)
    return "".join(
        f"; {_blackout_text(free, b)}" for b, m in free.time_blackouts(course) if m & window
    )


def _trainer_free_findings(free: Availability, course: Course, trainers: int) -> list[Finding]:
    """No qualified trainer free long enough (a block may change trainer from day to day)."""
    grid = free.grid
    starts = free.session_starts(course) & trainers
    if _fits(grid, course, starts):
        return []
    window = free.window_slots(course)
    qualified = [free.trainers[t] for t in free.qualified(course)]
    room = _room(grid, course, starts)
    head = _head(free, course)
    if len(qualified) == 1:
        only = qualified[0]
        reasons = _trainer_reasons(free, only, window)
        who = f"its only trainer {entity_text(only)} is"
        if room == 0 and reasons:
            message = f"{head}, but {who} {reasons}"
        else:
            message = f"{head}, but {who} {_free_in_it(course, room)}"
            message += _details([(entity_text(only), reasons)])
    else:
        names = _listed([entity_text(t) for t in qualified])
        message = (
            f"{head}, but between them its qualified trainers {names} are"
            f" {_free_in_it(course, room)}"
        )
        if len(qualified) <= _LISTED:
            message += _details(
                [(entity_text(t), _trainer_reasons(free, t, window)) for t in qualified]
            )
    message += _blackouts_too(
        free, course, _fits(grid, course, free.window_starts(course) & trainers)
    )
    return [Finding("trainer_unavailable", message, course.id, True)]


def _site_reasons(free: Availability, site: Site, window: int) -> str:
    """Why a site is not open within `window`: 'open only 1 May–30 Sep 2027 and closed ...'."""
    grid = free.grid
    out = [f"open only {', '.join(window_text(grid, w) for w in site.open)}"] if site.open else []
    out += [
        f"closed {window_text(grid, w)}{_why(w.reason)}"
        for w in site.closures
        if window_mask(grid, w) & window
    ]
    out += [
        f"blacked out {window_text(grid, b.window)}{_why(b.reason or b.window.reason)}"
        for b, m in free.hard_blackouts.get(("site", site.id), [])
        if m & window
    ]
    return " and ".join(out)


def _site_open_findings(
    free: Availability, course: Course, site_starts: list[int]
) -> list[Finding]:
    """No allowed site that seats the course is open long enough (a block keeps one site)."""
    grid = free.grid
    starts = free.session_starts(course)
    if not site_starts or _fits(grid, course, _reach(grid, course, starts, site_starts)):
        return []
    if course.pattern == "block":
        room = max(_room(grid, course, starts & s) for s in site_starts)
    else:
        room = _room(grid, course, starts & _union(site_starts))
    attendance = free.attendance(course)
    usable = [s for s in free.allowed_sites(course) if _seats(s, attendance)]
    window = free.window_slots(course)
    head, open_ = _head(free, course), _free_in_it(course, room, "open")
    if len(usable) == 1:
        only = entity_text(usable[0])
        message = f"{head}, but the only site it may use, {only}, is {open_}"
    else:
        names = _listed([entity_text(s) for s in usable])
        if course.pattern == "block":  # one site for the whole block
            message = f"{head}, but each of the sites it may use ({names}) is {open_}"
        else:
            message = f"{head}, but between them the sites it may use ({names}) are {open_}"
    if len(usable) <= _LISTED:
        message += _details([(entity_text(s), _site_reasons(free, s, window)) for s in usable])
    without = _reach(grid, course, free.window_starts(course), site_starts)
    message += _blackouts_too(free, course, _fits(grid, course, without))
    return [Finding("site_closed", message, course.id, True)]


def _no_common_time(
    free: Availability, course: Course, trainers: int, site_starts: list[int]
) -> Finding:
    grid = free.grid
    room = _room(
        grid, course, _reach(grid, course, free.session_starts(course) & trainers, site_starts)
    )
    message = (
        f"{_head(free, course)}; a qualified trainer is free and a site it may use is open"
        f" at times, but the two are {_free_in_it(course, room, 'available together')}"
    )
    without = _reach(grid, course, free.window_starts(course) & trainers, site_starts)
    message += _blackouts_too(free, course, _fits(grid, course, without))
    return Finding("no_common_time", message, course.id, True)


def _min_days_findings(free: Availability, course: Course, reach: int) -> list[Finding]:
    """A spread course that cannot reach its wanted distinct days pays min_days for sure."""
    ppd = free.grid.periods_per_day
    days = len({s // ppd for s in _slots(reach)})
    if days >= course.wanted_days:
        return []
    message = (
        f"course {course_text(course)} asks for {course.wanted_days} distinct days but can be"
        f" held on only {days} in {_span(free, course)}"
    )
    return [Finding("min_days", message, course.id, False)]


# --- pins ---------------------------------------------------------------------------------------


def _pin_findings(free: Availability, pin: Pin) -> list[Finding]:
    """Each way a pin breaks the rules. Always fatal: a pinned course must be placed."""
    grid = free.grid
    course = free.courses.get(pin.course)
    if course is None:
        return []
    day = grid.day_index(pin.day)
    if day is None:
        where = f"day {pin.day}" if isinstance(pin.day, int) else date_text(pin.day)
        problems = ["is not on a working day of the plan"]
    else:
        where = slot_text(grid, grid.slot(day, pin.period))
        problems = _pin_problems(free, course, pin, day)
    return [
        Finding(
            "pin", f"the pin of course {course_text(course)} at {where} {text}", course.id, True
        )
        for text in problems
    ]


def _pin_problems(free: Availability, course: Course, pin: Pin, day: int) -> list[str]:
    grid = free.grid
    if pin.period + course.length > grid.periods_per_day:
        return ["runs past the end of the working day"]
    session = ((1 << course.length) - 1) << grid.slot(day, pin.period)
    out: list[str] = []
    first, last = free.window(course)
    if not first <= day <= last:
        out.append(f"is outside the course's window {_span(free, course)}")
    out += [
        f"is inside a hard blackout: {_blackout_text(free, b)}"
        for b, m in free.time_blackouts(course)
        if m & session
    ]
    if not out and course.pattern == "block":
        n = course.sessions
        blocks = _block_cover(grid, _block_starts(grid, free.session_starts(course), n), n)
        if not blocks >> grid.slot(day, pin.period) & 1:
            out.append(f"leaves no room around it for a block of {n} consecutive working days")
    site = free.sites.get(pin.site or "")
    if site is not None:
        out += _pin_site_problems(free, course, site, session)
    trainer = free.trainers.get(pin.trainer or "")
    if trainer is not None:
        out += _pin_trainer_problems(free, course, trainer, session)
    return out


def _block_pins_findings(free: Availability) -> list[Finding]:
    """Pins of one block course must fit in one block: one period, within `sessions` days."""
    grid, out = free.grid, []
    pinned: dict[str, list[tuple[int, int]]] = {}
    for pin in free.problem.pins:
        day = grid.day_index(pin.day)
        if day is not None and pin.course in free.courses:
            pinned.setdefault(pin.course, []).append((day, pin.period))
    for course_id, pins in pinned.items():
        course = free.courses[course_id]
        days = sorted(d for d, _ in pins)
        if course.pattern != "block" or len(pins) < 2:
            continue
        if len({p for _, p in pins}) > 1 or days[-1] - days[0] >= course.sessions:
            where = _listed([slot_text(grid, grid.slot(d, p)) for d, p in sorted(pins)])
            message = (
                f"the pins of course {course_text(course)} at {where} cannot all be in one block"
                f" of {course.sessions} consecutive working days at one time of day"
            )
            out.append(Finding("pin", message, course.id, True))
    return out


def _pin_site_problems(free: Availability, course: Course, site: Site, session: int) -> list[str]:
    if course.sites and site.id not in course.sites:
        return [f"uses site {entity_text(site)}, which the course may not use"]
    out = []
    attendance = free.attendance(course)
    if not _seats(site, attendance):
        out.append(
            f"puts {attendance} trainees in site {entity_text(site)}, which seats {site.capacity}"
        )
    if session & ~free.site_free[site.id]:
        reasons = _site_reasons(free, site, session)
        out.append(f"uses site {entity_text(site)} when it is not open{_why(reasons)}")
    return out


def _pin_trainer_problems(
    free: Availability, course: Course, trainer: Trainer, session: int
) -> list[str]:
    if trainer.id not in free.qualified(course):
        return [f"names trainer {entity_text(trainer)}, who is not qualified for it"]
    if session & ~free.trainer_free[trainer.id]:
        reasons = _trainer_reasons(free, trainer, session) or "unavailable then"
        return [f"names trainer {entity_text(trainer)}, who is {reasons}"]
    return []


# --- demand over supply -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Demand:
    course: Course
    first: int
    last: int
    slots: int  # slots its sessions take
    room: int  # mask of the slots it could occupy


def _overload(demands: list[_Demand]) -> tuple[list[_Demand], int] | None:
    """Courses that need more slots than the union of where they could be held, if any.

    Besides all courses together, tries those due by each deadline and those starting from each
    start: a few tight windows inside a long year show up that way, at linear cost.
    """
    for order in (
        sorted(demands, key=lambda d: d.last),
        sorted(demands, key=lambda d: -d.first),
    ):
        need, room = 0, 0
        for i, d in enumerate(order):
            need, room = need + d.slots, room | d.room
            if need > room.bit_count():
                return order[: i + 1], room.bit_count()
    return None


def _demands(
    free: Availability, reach: dict[str, int], within: int | None = None
) -> dict[str, _Demand]:
    """Courses that must be placed (required or pinned) and passed their own checks."""
    pinned = {p.course for p in free.problem.pins}
    out = {}
    for course in free.problem.courses:
        if (course.required or course.id in pinned) and course.id in reach:
            first, last = free.window(course)
            room = _occupied(reach[course.id], course.length)
            out[course.id] = _Demand(course, first, last, course.sessions * course.length, room)
    return out


def _overload_message(free: Availability, subject: str, found: tuple[list[_Demand], int]) -> str:
    demands, room = found
    grid = free.grid
    need = periods_text(grid, sum(d.slots for d in demands))
    names = _listed([course_text(d.course) for d in demands])
    span = span_text(grid, min(d.first for d in demands), max(d.last for d in demands))
    return (
        f"{subject} {need} of required courses ({names}) in {span}, but those courses can be"
        f" held in only {periods_text(grid, room)} of it"
    )


def _cohort_overloads(free: Availability, reach: dict[str, int]) -> list[Finding]:
    """A cohort attends one session at a time: its required courses must fit side by side."""
    by_cohort: dict[str, list[_Demand]] = {}
    for demand in _demands(free, reach).values():
        for q in demand.course.cohorts:
            by_cohort.setdefault(q, []).append(demand)
    out = []
    for cohort in free.problem.cohorts:
        found = _overload(by_cohort.get(cohort.id, []))
        if found:
            message = _overload_message(free, f"cohort {entity_text(cohort)} must attend", found)
            out.append(Finding("cohort_overload", message, None, True))
    return out


def _trainer_overloads(free: Availability, reach: dict[str, int]) -> list[Finding]:
    """A fixed trainer teaches one session at a time, and only when free."""
    by_trainer: dict[str, list[_Demand]] = {}
    for demand in _demands(free, reach).values():
        fixed = demand.course.trainer
        if fixed is not None:
            room = demand.room & free.trainer_free[fixed]
            mine = _Demand(demand.course, demand.first, demand.last, demand.slots, room)
            by_trainer.setdefault(fixed, []).append(mine)
    out = []
    for trainer in free.problem.trainers:
        found = _overload(by_trainer.get(trainer.id, []))
        if found:
            subject = f"trainer {entity_text(trainer)} must teach"
            out.append(
                Finding("trainer_overload", _overload_message(free, subject, found), None, True)
            )
    return out
