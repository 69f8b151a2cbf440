"""A fast greedy construction: places every course it can, hardest first, cheapest slot first,
then makes room for the few it could not place by moving the courses in their way; then, when
asked, settles: each course, dearest first, placed again where it is now cheaper, alone or by
moving the few courses in the way.

It gives the first feasible schedule in seconds on a province's year, the one the search then
improves; whatever it still cannot place is left to CP-SAT (and is listed).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from solver.domains import CourseDomains, DomainBuilder, Restriction, intersect, site_charge
from solver.grid import TimeGrid
from solver.problem import Course, Placement, Problem, Weights

# A placed session as the construction keeps it: start slot, site, trainer.
Session = tuple[int, str, str]
# No sessions taught beyond the occupancy's (see `Greedy.overload`).
NOTHING_MORE: Mapping[tuple[str, str, int], int] = {}


def span_bits(slot: int, length: int) -> int:
    return ((1 << length) - 1) << slot


def blocked_starts(busy: int, length: int) -> int:
    """Bit s is set when a session of `length` starting at s would touch a busy slot."""
    out = busy
    for k in range(1, length):
        out |= busy >> k
    return out


@dataclass
class Occupancy:
    """Who uses each site, trainer and cohort when, and the number of sessions per slot.

    Busy slots are bitsets (bit s = slot s): "is this span free for the site and every cohort"
    is one AND, and the free starts of a whole row a few shifts, where sets cost a Python loop
    per slot. The owners say which course is in the way, for the repair.
    """

    n_slots: int
    site: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    trainer: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cohort: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    site_owner: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    trainer_owner: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    cohort_owner: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    load: list[int] = field(default_factory=list)
    # Sessions per (trainer, week) and (trainer, month): the trainer-load limits.
    taught: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    # Week and month of each slot, and for cohorts of units with a density cap, their unit and
    # size: cadres away per unit and slot, and each unit's busiest slot so far.
    weeks: list[int] = field(default_factory=list)
    months: list[int] = field(default_factory=list)
    capped: dict[str, tuple[str, int]] = field(default_factory=dict)
    away: dict[str, list[int]] = field(default_factory=dict)
    _peak: dict[str, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.load = [0] * self.n_slots
        for unit, _ in self.capped.values():
            self.away.setdefault(unit, [0] * self.n_slots)
            self._peak[unit] = 0

    def peak(self, unit: str) -> int:
        """Most cadres of `unit` away at once so far."""
        top = self._peak[unit]
        if top is None:
            top = self._peak[unit] = max(self.away[unit])
        return top

    def take(self, course: Course, slot: int, site: str, trainer: str) -> None:
        bits, span = span_bits(slot, course.length), range(slot, slot + course.length)
        self.site[site] |= bits
        self.trainer[trainer] |= bits
        for q in course.cohorts:
            self.cohort[q] |= bits
        for s in span:
            self.load[s] += 1
            self.site_owner[site][s] = course.id
            self.trainer_owner[trainer][s] = course.id
            for q in course.cohorts:
                self.cohort_owner[q][s] = course.id
        self._count(course, slot, trainer, 1)

    def release(self, course: Course, slot: int, site: str, trainer: str) -> None:
        bits, span = span_bits(slot, course.length), range(slot, slot + course.length)
        self.site[site] &= ~bits
        self.trainer[trainer] &= ~bits
        for q in course.cohorts:
            self.cohort[q] &= ~bits
        for s in span:
            self.load[s] -= 1
            del self.site_owner[site][s]
            del self.trainer_owner[trainer][s]
            for q in dict.fromkeys(course.cohorts):
                del self.cohort_owner[q][s]
        self._count(course, slot, trainer, -1)

    def _count(self, course: Course, slot: int, trainer: str, sign: int) -> None:
        if self.weeks:
            self.taught[(trainer, "week", self.weeks[slot])] += sign
            self.taught[(trainer, "month", self.months[slot])] += sign
        for q in dict.fromkeys(course.cohorts):
            if q in self.capped:
                unit, size = self.capped[q]
                row = self.away[unit]
                for s in range(slot, slot + course.length):
                    row[s] += sign * size
                    top = self._peak[unit]
                    if sign > 0 and top is not None and row[s] > top:
                        self._peak[unit] = row[s]
                if sign < 0:
                    self._peak[unit] = None  # the peak may have gone down: recount on demand


@dataclass(frozen=True)
class Construction:
    placements: tuple[Placement, ...]
    unplaced: tuple[str, ...]  # course ids the greedy could not place
    # The same schedule after `Greedy.settle`, when asked for: the caller keeps whichever
    # the checker finds cheaper (the construction's prices leave compactness out).
    settled: tuple[Placement, ...] | None = None


@dataclass(frozen=True)
class CourseOptions:
    """What placing one course needs and never changes, worked out once instead of per slot."""

    dom: CourseDomains
    attendance: int
    site_starts: dict[str, list[int]]  # sorted starts per allowed site
    trainers: dict[str, frozenset[int] | None]  # allowed session starts (None: any)
    first: int | None  # earliest and latest start at any site
    last: int | None
    away: tuple[tuple[str, int], ...] = ()  # (unit with a density cap, cadres it sends)

    @property
    def course(self) -> Course:
        return self.dom.course


# How much expected demand by later courses weighs against soft costs when choosing a place.
HEAT_COST = 40.0
# Settling passes at most, while one still moves a course (M seed 1: 31,531 -> 29,231 in
# one pass of 0.7 s, 29,058 in two, no more in three; S seed 1: 2,134 -> 1,813 in one); then
# passes that make room (M seed 1: 29,058 -> 25,044 in one pass of 0.8 s, 24,552 in two,
# 24,497 in four; S seed 2: 2,521 -> 2,238 -> 2,148).
SETTLE_PASSES = 3
EJECTING_PASSES = 3
# Repair effort per course left over (ejection sets tried) and in all (ejected courses placed
# again): counted, not timed, so that the construction stays deterministic.
REPAIR_TRIES = 8
REPAIR_EJECTIONS = 2000
# Largest set of courses moved out of the way of one course.
REPAIR_MOST = 6
# Levels of repair: a course moved out of the way may move others in turn.
REPAIR_DEPTH = 2


class Greedy:
    """Places one course at a time into the occupancy, never breaking a hard rule."""

    def __init__(
        self,
        problem: Problem,
        grid: TimeGrid,
        weights: Weights,
        builder: DomainBuilder | None = None,
    ) -> None:
        self.problem, self.grid, self.weights = problem, grid, weights
        self.builder = builder or DomainBuilder(problem, grid)
        by_slot = range(grid.n_slots)
        caps = {
            u.id: math.floor(u.away_cap * u.headcount + 1e-9)
            for u in problem.units
            if u.away_cap is not None
        }
        self.caps = caps
        self.occ = Occupancy(
            grid.n_slots,
            weeks=[grid.week_of_day[grid.day_of(x)] for x in by_slot],
            months=[grid.month_of_day[grid.day_of(x)] for x in by_slot],
            capped={q.id: (q.unit, q.size) for q in problem.cohorts if q.unit in caps},
        )
        self.sites = {s.id: s for s in problem.sites}
        self.trainers = {t.id: t for t in problem.trainers}
        self.courses = problem.course_by_id
        # Worked out for the courses the greedy places, when first needed: a repair keeps most
        # courses as they were and checks those at their own starts only (on a national plan,
        # the options of every course took 1.5 s of a repair's 5).
        self._options: dict[str, CourseOptions] = {}
        self._hardness: dict[str, tuple[float, ...]] = {}
        self.placed: dict[str, list[Session]] = {}  # by the greedy; a repair may move them
        # (placed?, course, sessions) of every change, so that a failed repair can be undone.
        self.journal: list[tuple[bool, str, list[Session]]] = []
        self.repair_budget = REPAIR_EJECTIONS
        self._time_costs: dict[tuple[tuple[int, ...], int], dict[int, int]] = {}
        self._course_time_costs: dict[str, dict[int, int]] = {}
        self._soft_in_time: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        for i, b in enumerate(problem.blackouts):
            if not b.hard and b.scope not in ("site", "trainer"):
                self._soft_in_time[(b.scope, b.target)].append(i)
        self._site_costs: dict[tuple[str, int], dict[int, int]] = {}
        # Expected demand of not-yet-placed courses per site and day: placing a course where
        # others will need the room anyway is what makes greedy schedules dead-end. Added for
        # each course left to place (`construct_once`), taken off as it is placed.
        self.heat: dict[str, list[float]] = defaultdict(lambda: [0.0] * grid.n_days)

    def options(self, course_id: str) -> CourseOptions:
        opts = self._options.get(course_id)
        if opts is None:
            dom = self.builder.course_domains(self.courses[course_id])
            opts = self._options[course_id] = self._build_options(dom)
        return opts

    def hardness(self, course_id: str) -> tuple[float, ...]:
        known = self._hardness.get(course_id)
        if known is None:
            known = self._hardness[course_id] = difficulty(self.options(course_id))
        return known

    def _build_options(self, dom: CourseDomains) -> CourseOptions:
        starts = dom.starts()
        return CourseOptions(
            dom=dom,
            attendance=self.problem.attendance(dom.course),
            site_starts={s: sorted(intersect(starts, rs)) for s, rs in dom.sites.items()},
            trainers={t: allowed_by(rs) for t, rs in dom.trainers.items()},
            first=min(starts) if starts else None,
            last=max(starts) if starts else None,
            away=self.sent(dom.course),
        )

    def sent(self, course: Course) -> tuple[tuple[str, int], ...]:
        """Cadres the course takes away from each unit with a density cap."""
        away: dict[str, int] = defaultdict(int)
        for q in dict.fromkeys(course.cohorts):
            if q in self.occ.capped:
                unit, size = self.occ.capped[q]
                away[unit] += size
        return tuple(sorted(away.items()))

    def density_cost(self, opts: CourseOptions, spans: Iterable[int]) -> int:
        """What raising its units' busiest time costs, for the course running at `spans`
        (start slots of sessions of the course's length)."""
        cost, length = 0, opts.course.length
        for unit, size in opts.away:
            row = self.occ.away[unit]
            top = max(max(row[x : x + length]) for x in spans) + size
            over = top - max(self.occ.peak(unit), self.caps[unit])
            if over > 0:
                cost += self.weights.density * over
        return cost

    def add_heat(self, opts: CourseOptions, sign: float) -> None:
        if opts.first is None or opts.last is None or not opts.dom.sites:
            return
        course, ppd = opts.course, self.grid.periods_per_day
        lo, hi = opts.first // ppd, opts.last // ppd
        if course.pattern == "block":
            hi += course.sessions - 1
        hi = min(hi, self.grid.n_days - 1)
        per_day = (
            sign * course.sessions * course.length / ((hi - lo + 1) * ppd * len(opts.dom.sites))
        )
        for site in opts.dom.sites:
            row = self.heat[site]
            for d in range(lo, hi + 1):
                row[d] += per_day

    # Soft costs that depend only on where a session is, not on the rest of the schedule.
    def _hits(self, covered: Iterable[int], length: int) -> set[int]:
        """Working-time starts whose session of `length` touches a covered slot."""
        ppd = self.grid.periods_per_day
        hits = {x - k for x in covered for k in range(length)}
        return {s for s in hits if s >= 0 and s % ppd + length <= ppd}

    def time_costs(self, course: Course) -> dict[int, int]:
        """Plan/unit/cohort/course soft-blackout cost per session start; shared by courses
        that the same blackouts concern."""
        costs = self._course_time_costs.get(course.id)
        if costs is not None:
            return costs
        targets = self.builder.time_keys(course)
        applies = tuple(sorted({i for key in targets for i in self._soft_in_time.get(key, ())}))
        key = (applies, course.length)
        costs = self._time_costs.get(key)
        if costs is None:
            costs = defaultdict(int)
            for i in applies:
                b = self.problem.blackouts[i]
                for s in self._hits(self.builder.covered(b.window), course.length):
                    costs[s] += self.weights.soft_blackout if b.weight is None else b.weight
            self._time_costs[key] = costs
        self._course_time_costs[course.id] = costs
        return costs

    def site_costs(self, site: str, length: int) -> dict[int, int]:
        """Soft site-blackout cost per session start at one site."""
        costs = self._site_costs.get((site, length))
        if costs is None:
            costs = defaultdict(int)
            for b in self.problem.blackouts:
                if not b.hard and b.scope == "site" and b.target == site:
                    for s in self._hits(self.builder.covered(b.window), length):
                        costs[s] += self.weights.soft_blackout if b.weight is None else b.weight
            self._site_costs[(site, length)] = costs
        return costs

    def site_cost(self, opts: CourseOptions, site: str) -> int:
        """Capacity-overflow and preferred-site cost of every session at one site."""
        return site_charge(self.weights, opts.course, self.sites[site], opts.attendance)

    def session_costs(self, opts: CourseOptions, site: str, slots: Iterable[int]) -> list[int]:
        """Soft-blackout, capacity and preferred-site cost of a session at each of `slots`."""
        at_time = self.time_costs(opts.course)
        at_site = self.site_costs(site, opts.course.length)
        fixed = self.site_cost(opts, site)
        return [at_time.get(s, 0) + at_site.get(s, 0) + fixed for s in slots]

    def usable_sites(self, opts: CourseOptions) -> list[str]:
        """Allowed sites big enough when their capacity is hard, in the course's order."""
        return [site for site in opts.dom.sites if not self.sites[site].too_small(opts.attendance)]

    def cohorts_busy(self, course: Course) -> int:
        busy = 0
        for q in course.cohorts:
            busy |= self.occ.cohort[q]
        return busy

    def overload(
        self,
        t: str,
        week: int,
        month: int,
        extra: Mapping[tuple[str, str, int], int] = NOTHING_MORE,
    ) -> int:
        """How many of the trainer's limits (weekly, monthly) one more session would exceed,
        with `extra` sessions (by trainer, "week"/"month", number) counted as taught."""
        trainer, taught = self.trainers[t], self.occ.taught
        weekly, monthly = trainer.max_sessions_per_week, trainer.max_sessions_per_month
        w, m = (t, "week", week), (t, "month", month)
        over = int(weekly is not None and taught.get(w, 0) + extra.get(w, 0) >= weekly)
        return over + int(monthly is not None and taught.get(m, 0) + extra.get(m, 0) >= monthly)

    def trainer_cost(self, t: str, slot: int) -> int:
        """Trainer-load cost of one more session for `t` at `slot`."""
        over = self.overload(t, self.occ.weeks[slot], self.occ.months[slot])
        return self.weights.trainer_load * over

    def trainers_cost(self, sessions: Iterable[tuple[str, int]]) -> int:
        """Trainer-load cost of these sessions (trainer, slot) added together, each counting
        those before it: a block of seven days from a Monday puts five in one week, and
        priced a session at a time against the weeks as they were, it cost nothing (S seed
        3's construction paid 360 for trainers' overloads, most of them a block's own)."""
        extra, over = Counter[tuple[str, str, int]](), 0
        for t, slot in sessions:
            week, month = self.occ.weeks[slot], self.occ.months[slot]
            over += self.overload(t, week, month, extra)
            extra[(t, "week", week)] += 1
            extra[(t, "month", month)] += 1
        return self.weights.trainer_load * over

    def trainer_for(self, opts: CourseOptions, slot: int, prefer: str | None) -> str | None:
        """A qualified, available, free trainer: the preferred one, else the least busy."""
        bits = span_bits(slot, opts.course.length)
        week, month = self.occ.weeks[slot], self.occ.months[slot]
        best: tuple[int, str] | None = None
        for t, allowed in opts.trainers.items():
            if allowed is not None and slot not in allowed:
                continue
            busy = self.occ.trainer[t]
            if busy & bits:
                continue
            over = self.overload(t, week, month)
            key = (over * 2 + (0 if t == prefer else 1)) * 10**6 + busy.bit_count()
            if best is None or key < best[0]:
                best = (key, t)
        return None if best is None else best[1]

    def place(self, opts: CourseOptions) -> bool:
        """Place the whole course at its cheapest free places, or leave everything as it was."""
        if opts.course.pattern == "block":
            sessions = self.place_block(opts)
        else:
            sessions = self.place_spread(opts)
        if sessions is None:
            return False
        self.placed[opts.course.id] = sessions
        self.journal.append((True, opts.course.id, sessions))
        return True

    def place_block(self, opts: CourseOptions) -> list[Session] | None:
        course, ppd, length = opts.course, self.grid.periods_per_day, opts.course.length
        n = course.sessions
        load, cohorts = self.occ.load, self.cohorts_busy(course)
        best: tuple[tuple[float, int, int], int, str, list[str]] | None = None
        for site in self.usable_sites(opts):
            starts = opts.site_starts[site]
            if not starts:
                continue
            blocked = blocked_starts(self.occ.site[site] | cohorts, length)
            any_blocked = blocked
            for k in range(1, n):
                any_blocked |= blocked >> (k * ppd)
            row = self.heat[site]
            # One slot's cost per day the block could use, indexed by (slot - first start).
            first = starts[0]
            costs = self.session_costs(opts, site, range(first, starts[-1] + n * ppd))
            for b in starts:
                if any_blocked >> b & 1:
                    continue
                slots = range(b, b + n * ppd, ppd)
                cost = sum(costs[s - first] for s in slots)
                day = b // ppd
                heat = sum(row[day : day + n])
                if length == 1:
                    most = max(load[s] for s in slots)
                else:
                    most = max(max(load[s : s + length]) for s in slots)
                if opts.away:
                    cost += self.density_cost(opts, slots)
                rank = (cost + heat * HEAT_COST, most, b)
                if best is not None and rank >= best[0]:
                    continue
                trainers = self.block_trainers(opts, slots)
                if trainers is None:
                    continue
                extra = self.trainers_cost(zip(trainers, slots, strict=True))
                if extra:
                    rank = (rank[0] + extra, rank[1], rank[2])
                    if best is not None and rank >= best[0]:
                        continue
                best = (rank, b, site, trainers)
        if best is None:
            return None
        _, b, site, trainers = best
        sessions = [(b + k * ppd, site, trainers[k]) for k in range(n)]
        for s, site, t in sessions:
            self.occ.take(course, s, site, t)
        return sessions

    def block_trainers(self, opts: CourseOptions, slots: range) -> list[str] | None:
        """A trainer per day of a block, each counting the days already given to them."""
        trainers: list[str] = []
        length = opts.course.length
        for s in slots:
            t = self.trainer_for(opts, s, trainers[-1] if trainers else None)
            if t is None:
                break
            trainers.append(t)
            self.occ.trainer[t] |= span_bits(s, length)
        for t, s in zip(trainers, slots, strict=False):
            self.occ.trainer[t] &= ~span_bits(s, length)
        return trainers if len(trainers) == len(slots) else None

    def place_spread(self, opts: CourseOptions) -> list[Session] | None:
        course, ppd, length = opts.course, self.grid.periods_per_day, opts.course.length
        load = self.occ.load
        sites = self.usable_sites(opts)
        costs = {site: self.session_costs(opts, site, opts.site_starts[site]) for site in sites}
        chosen: list[Session] = []
        days_used: set[int] = set()
        site_pref: str | None = None
        for _ in range(course.sessions):
            best: tuple[tuple[int, float, int, int], int, str, str] | None = None
            few_days = len(days_used) < course.wanted_days
            cohorts = self.cohorts_busy(course)
            for site in ([site_pref] if site_pref else []) + [s for s in sites if s != site_pref]:
                blocked = blocked_starts(self.occ.site[site] | cohorts, length)
                stability = 0 if site == site_pref else self.weights.stability
                row = self.heat[site]
                for s, cost in zip(opts.site_starts[site], costs[site], strict=True):
                    if blocked >> s & 1:
                        continue
                    day = s // ppd
                    if opts.away:
                        cost += self.density_cost(opts, (s,))
                    rank = (
                        int(few_days and day in days_used),
                        cost + stability + row[day] * HEAT_COST,
                        load[s] if length == 1 else max(load[s : s + length]),
                        s,
                    )
                    if best is not None and rank >= best[0]:
                        continue
                    t = self.trainer_for(opts, s, chosen[-1][2] if chosen else None)
                    if t is None:
                        continue
                    extra = self.trainer_cost(t, s)
                    if extra:
                        rank = (rank[0], rank[1] + extra, rank[2], rank[3])
                        if best is not None and rank >= best[0]:
                            continue
                    best = (rank, s, site, t)
            if best is None:
                for s, site, t in chosen:  # undo this course
                    self.occ.release(course, s, site, t)
                return None
            _, s, site, t = best
            self.occ.take(course, s, site, t)
            chosen.append((s, site, t))
            days_used.add(s // ppd)
            site_pref = site_pref or site
        chosen.sort()
        return chosen

    def price(self, opts: CourseOptions, sessions: Sequence[Session]) -> int:
        """What the course costs at these sessions by the construction's own prices (time,
        site, density, trainer load, stability), the course itself not in the schedule."""
        cost = self.weights.stability * (len({site for _, site, _ in sessions}) - 1)
        cost += self.trainers_cost((t, s) for s, _, t in sessions)
        for s, site, _ in sessions:
            cost += self.session_costs(opts, site, (s,))[0]
        if opts.away:
            cost += self.density_cost(opts, [s for s, _, _ in sessions])
        return cost

    def settle(self, locked: set[str]) -> int:
        """Take each placed course out, dearest first, and place it again where it is now
        cheapest: kept when that costs less. The greedy placed each course before knowing
        where the later ones would go, and steered clear of time other courses still needed
        (heat); with every course in, some find cheaper places. Returns the courses moved."""
        moved = 0
        for course_id in self.dearest(locked):
            opts, start, before = self.take_out(course_id)
            if not self.place(opts):
                self.rollback(start)
                continue
            placed = len(self.journal)
            new = self.placed[course_id]
            self.remove(course_id)
            if self.price(opts, new) < before:
                self.rollback(placed)
                moved += 1
            else:
                self.rollback(start)
        return moved

    def dearest(self, locked: set[str]) -> list[str]:
        """Placed courses not locked that cost something where they are, dearest first."""
        prices = {c: self.alone_price(c) for c in list(self.placed) if c not in locked}
        return sorted((c for c in prices if prices[c] > 0), key=lambda c: (-prices[c], c))

    def take_out(self, course_id: str) -> tuple[CourseOptions, int, int]:
        """Remove a placed course: its options, the journal's length before (to roll back to)
        and its `price` where it was."""
        opts, mark, sessions = self.options(course_id), len(self.journal), self.placed[course_id]
        self.remove(course_id)
        return opts, mark, self.price(opts, sessions)

    def alone_price(self, course_id: str) -> int:
        """`price` of a placed course where it is, with it taken out for the asking."""
        _, mark, cost = self.take_out(course_id)
        self.rollback(mark)
        return cost

    def settle_ejecting(self, locked: set[str], budget: int) -> int:
        """Settle with room made: a dear course goes where it would cost less per session
        than now, the few courses in the way (`ejection_sets`) placed again elsewhere; kept
        when the courses moved cost less in all. `budget`: ejection sets tried at most.
        Returns the moves kept."""
        moved = 0
        for course_id in self.dearest(locked):
            if budget <= 0:
                break
            sessions = len(self.placed[course_id])
            opts, start, before = self.take_out(course_id)
            each = before / sessions
            cheap = {
                site: [
                    s
                    for s, c in zip(starts, self.session_costs(opts, site, starts), strict=True)
                    if c < each
                ]
                for site, starts in opts.site_starts.items()
            }
            self.rollback(start)
            narrowed = dataclasses.replace(opts, site_starts=cheap)
            for eject, there in self.ejection_sets(narrowed, locked | {course_id})[:REPAIR_TRIES]:
                budget -= 1
                was = {c: self.alone_price(c) for c in eject}
                mark = len(self.journal)
                hardest_first = sorted(eject, key=lambda c: (self.hardness(c), c))
                for cid in [course_id, *hardest_first]:
                    self.remove(cid)
                ok = self.place(dataclasses.replace(opts, site_starts=there))
                for cid in hardest_first:
                    ok = ok and self.place(self.options(cid))
                if ok and sum(self.alone_price(c) for c in [course_id, *eject]) < before + sum(
                    was.values()
                ):
                    moved += 1
                    break
                self.rollback(mark)
        return moved

    def remove(self, course_id: str) -> None:
        """Take a placed course out of the schedule."""
        sessions = self.placed.pop(course_id)
        course = self.courses[course_id]
        for s, site, t in sessions:
            self.occ.release(course, s, site, t)
        self.journal.append((False, course_id, sessions))

    def rollback(self, mark: int) -> None:
        """Undo every place and remove since the journal was `mark` long."""
        while len(self.journal) > mark:
            placed, course_id, sessions = self.journal.pop()
            course = self.courses[course_id]
            if placed:
                del self.placed[course_id]
            else:
                self.placed[course_id] = sessions
            for s, site, t in sessions:
                if placed:
                    self.occ.release(course, s, site, t)
                else:
                    self.occ.take(course, s, site, t)

    # Repair: make room for a course the greedy could not place.
    def repair(self, opts: CourseOptions, locked: set[str], depth: int = REPAIR_DEPTH) -> bool:
        """Move a few placed courses out of the way of `opts`, place it, put them back elsewhere.

        Tries the smallest sets of courses standing where the course could go, and keeps a try
        only when the course and every course it moved are placed again; a moved course that
        no longer fits gets a repair of its own, `depth` levels down. Courses in `locked` stay.
        """
        for eject, there in self.ejection_sets(opts, locked)[:REPAIR_TRIES]:
            if self.repair_budget < len(eject):
                return False
            self.repair_budget -= len(eject)
            mark = len(self.journal)
            hardest_first = sorted(eject, key=lambda cid: (self.hardness(cid), cid))
            for cid in hardest_first:
                self.remove(cid)
            done = {opts.course.id}
            # Where the room was made: elsewhere could take what the moved courses need.
            if self.place(dataclasses.replace(opts, site_starts=there)):
                for cid in hardest_first:
                    o = self.options(cid)
                    if not self.place(o) and not (
                        depth > 1 and self.repair(o, locked | done, depth - 1)
                    ):
                        break
                    done.add(cid)
                else:
                    return True
            self.rollback(mark)
        return False

    def ejection_sets(
        self, opts: CourseOptions, locked: set[str]
    ) -> list[tuple[frozenset[str], dict[str, list[int]]]]:
        """Sets of movable courses whose removal frees one whole place for the course, with
        the starts they free; fewest courses (then least work to place again) first."""
        course, ppd = opts.course, self.grid.periods_per_day
        places = [(site, s) for site in self.usable_sites(opts) for s in opts.site_starts[site]]
        found: list[tuple[frozenset[str], list[tuple[str, int]]]] = []
        if course.pattern == "block":
            for site, b in places:
                union = frozenset[str]()
                for k in range(course.sessions):
                    blocking = self.blocking(opts, site, b + k * ppd, locked)
                    if blocking is None:
                        break
                    union |= blocking
                else:
                    found.append((union, [(site, b)]))
        else:
            # Spread sessions need distinct times: the least blocked ones, anywhere and then at
            # each single site (one site is what the stability term wants).
            blocked = []
            for i, (site, s) in enumerate(places):
                blocking = self.blocking(opts, site, s, locked)
                if blocking is not None:
                    blocked.append((len(blocking), self.work(blocking), i, site, s, blocking))
            blocked.sort()
            for only in [None, *self.usable_sites(opts)]:
                used, union, picked = 0, frozenset[str](), []
                for *_, site, s, blocking in blocked:
                    bits = span_bits(s, course.length)
                    if (only is None or site == only) and not used & bits:
                        used, union = used | bits, union | blocking
                        picked.append((site, s))
                        if len(picked) == course.sessions:
                            found.append((union, picked))
                            break
        first: dict[frozenset[str], int] = {}
        for i, (eject, _) in enumerate(found):
            first.setdefault(eject, i)
        small = [x for x in first if 0 < len(x) <= REPAIR_MOST]
        small.sort(key=lambda x: (len(x), self.work(x), first[x]))
        out = []
        for eject in small:
            there: dict[str, list[int]] = {site: [] for site in opts.site_starts}
            for site, s in sorted(found[first[eject]][1]):
                there[site].append(s)
            out.append((eject, there))
        return out

    def work(self, courses: Iterable[str]) -> int:
        """Periods of teaching to place again if `courses` move."""
        return sum(self.courses[c].sessions * self.courses[c].length for c in courses)

    def blocking(
        self, opts: CourseOptions, site: str, slot: int, locked: set[str]
    ) -> frozenset[str] | None:
        """The courses in the way of one session at `site` and `slot`: on the site, in its
        cohorts, and on the trainer least in the way; None when one of them may not move."""
        course, occ = opts.course, self.occ
        span = range(slot, slot + course.length)
        found = {occ.site_owner[site].get(s) for s in span}
        for q in course.cohorts:
            found |= {occ.cohort_owner[q].get(s) for s in span}
        least: set[str | None] | None = None
        for t, allowed in opts.trainers.items():
            if allowed is not None and slot not in allowed:
                continue
            extra = {occ.trainer_owner[t].get(s) for s in span} - found
            if not extra & locked and (least is None or len(extra) < len(least)):
                least = extra
        if least is None:
            return None
        out = frozenset(cid for cid in found | least if cid is not None)
        return None if out & locked else out

    def placement(self, course: Course, k: int, slot: int, site: str, trainer: str) -> Placement:
        day, period = self.grid.day_of(slot), self.grid.period_of(slot)
        return Placement(
            course=course.id,
            session=k,
            day=self.grid.day_ref(day),
            period=period,
            site=site,
            trainer=trainer,
        )

    def placements(self) -> list[Placement]:
        return [
            self.placement(self.courses[cid], k, s, site, t)
            for cid, sessions in self.placed.items()
            for k, (s, site, t) in enumerate(sessions)
        ]


def allowed_by(restrictions: list[Restriction]) -> frozenset[int] | None:
    """The starts every restriction allows; None when there are none (any start)."""
    if not restrictions:
        return None
    if len(restrictions) == 1:
        return restrictions[0].allowed
    return intersect(restrictions[0].allowed, restrictions[1:])


def difficulty(opts: CourseOptions) -> tuple[float, ...]:
    """Hardest first: required, then fewest places per session of work, then biggest."""
    course = opts.course
    places = sum(len(opts.site_starts[s]) for s in opts.dom.sites)
    return (
        0 if course.required else 1,
        places / (course.sessions * course.length),
        -opts.attendance,
    )


def construct(
    problem: Problem,
    grid: TimeGrid,
    weights: Weights,
    keep: Sequence[Placement] = (),
    skip: set[str] | frozenset[str] = frozenset(),
    builder: DomainBuilder | None = None,
    rounds: int = 1,
    settle: bool = False,
) -> Construction:
    """Greedy schedule. `keep` are sessions already decided (pins, frozen, a previous schedule
    being repaired): whole courses among them are kept as they are when still valid.
    `builder` shares course domains with the rest of the solve.

    `rounds`: constructions tried at most while some course stays unplaced. Each round places
    first the courses earlier rounds could not place, those that failed most often first
    (squeaky wheel: a greedy fails on the courses its order reached too late; on ITC-2007
    comp05 the first round leaves one course out and the eleventh places them all, in 0.5 s,
    where CP-SAT needed 10-60 s to fit it in). The round leaving fewest out is returned,
    with its settled schedule (`Greedy.settle`) when `settle` asks for it."""
    builder = builder or DomainBuilder(problem, grid)
    best = construct_once(problem, grid, weights, keep, skip, builder, (), settle)

    def failed(c: Construction) -> list[str]:  # skipped courses are CP-SAT's to place
        return [cid for cid in c.unplaced if cid not in skip]

    blame: Counter[str] = Counter(failed(best))
    for _ in range(rounds - 1):
        if not failed(best):
            break
        first = sorted(blame, key=lambda cid: (-blame[cid], cid))
        found = construct_once(problem, grid, weights, keep, skip, builder, first, settle)
        blame.update(failed(found))
        if len(found.unplaced) < len(best.unplaced):
            best = found
    return best


def construct_once(
    problem: Problem,
    grid: TimeGrid,
    weights: Weights,
    keep: Sequence[Placement],
    skip: set[str] | frozenset[str],
    builder: DomainBuilder,
    first: Sequence[str],
    settle: bool = False,
) -> Construction:
    """One greedy pass: the courses in `first` in that order, then the rest hardest first; then
    a repair for each course that did not fit."""
    greedy = Greedy(problem, grid, weights, builder)
    kept_courses = kept_whole_courses(grid, greedy, keep)
    unplaced = sorted(set(skip) - set(kept_courses))
    rank = {cid: i for i, cid in enumerate(first)}
    left = [greedy.options(c.id) for c in problem.courses if c.id not in kept_courses]
    for opts in left:
        greedy.add_heat(opts, 1.0)
    order = sorted(
        (o for o in left if o.course.id not in skip),
        key=lambda o: (rank.get(o.course.id, len(rank)), greedy.hardness(o.course.id)),
    )
    failed = []
    for opts in order:
        greedy.add_heat(opts, -1.0)
        if not greedy.place(opts):
            failed.append(opts)
    locked = set(kept_courses)  # decided before: a repair does not move them
    for opts in failed:
        if not greedy.repair(opts, locked):
            unplaced.append(opts.course.id)
    kept = [pl for pls in kept_courses.values() for pl in pls]
    placements = tuple(kept + greedy.placements())
    settled = None
    if settle and settle_all(greedy, locked, len(problem.courses)):
        settled = tuple(kept + greedy.placements())
    return Construction(placements, tuple(unplaced), settled)


def settle_all(greedy: Greedy, locked: set[str], budget: int) -> int:
    """Settling passes while they move a course, then with room made, then once more.
    Returns the moves kept."""
    total = 0
    for _ in range(SETTLE_PASSES):
        moves = greedy.settle(locked)
        total += moves
        if not moves:
            break
    for _ in range(EJECTING_PASSES):
        moves = greedy.settle_ejecting(locked, budget) + greedy.settle(locked)
        total += moves
        if not moves:
            break
    return total


def kept_whole_courses(
    grid: TimeGrid, greedy: Greedy, keep: Sequence[Placement]
) -> dict[str, list[Placement]]:
    """Courses whose kept sessions are complete and still legal, committed to the occupancy."""
    by_course: dict[str, list[Placement]] = defaultdict(list)
    for pl in keep:
        by_course[pl.course].append(pl)
    out: dict[str, list[Placement]] = {}
    broken: list[str] = []
    for course_id, pls in sorted(by_course.items()):
        course = greedy.courses.get(course_id)
        if course is None or len(pls) != course.sessions:
            continue
        pls = sorted(pls, key=lambda p: p.session)
        slots = slots_of(grid, pls)
        if legal_as_kept(greedy, course, pls, slots):
            out[course_id] = renumbered(course, pls, slots)
        else:
            broken.append(course_id)
    # Then courses that only lost a trainer (who left, or is away on some of its dates): the
    # same times and sites with another qualified trainer who is free, so that a repair
    # changes the trainer of those sessions only instead of moving the whole course.
    for course_id in broken:
        opts = greedy.options(course_id)
        pls = sorted(by_course[course_id], key=lambda p: p.session)
        slots = slots_of(grid, pls)
        retrained = with_free_trainers(greedy, opts, pls, slots)
        if retrained is not None and legal_as_kept(greedy, opts.course, retrained, slots):
            out[course_id] = renumbered(opts.course, retrained, slots)
    return out


def slots_of(grid: TimeGrid, pls: Sequence[Placement]) -> list[int | None]:
    slots: list[int | None] = []
    for pl in pls:
        day = grid.day_index(pl.day)
        slots.append(None if day is None else grid.slot(day, pl.period))
    return slots


def with_free_trainers(
    greedy: Greedy, opts: CourseOptions, pls: list[Placement], slots: list[int | None]
) -> list[Placement] | None:
    """The sessions with each trainer who cannot teach them then replaced by one who can (the
    course's other sessions keep theirs); None when some session has nobody."""
    out = []
    for pl, s in zip(pls, slots, strict=True):
        if s is None:
            return None
        allowed = opts.trainers.get(pl.trainer, frozenset())
        free = not greedy.occ.trainer[pl.trainer] & span_bits(s, opts.course.length)
        if pl.trainer in opts.trainers and (allowed is None or s in allowed) and free:
            out.append(pl)
            continue
        others = [p.trainer for p in pls if p.trainer != pl.trainer]
        trainer = greedy.trainer_for(opts, s, others[0] if others else None)
        if trainer is None:
            return None
        out.append(pl.model_copy(update={"trainer": trainer}))
    return out


def renumbered(course: Course, pls: list[Placement], slots: list[int | None]) -> list[Placement]:
    """Spread sessions numbered in time order (the model orders them so)."""
    ordered = sorted(zip(slots, pls, strict=True), key=lambda x: x[0] or 0)
    return [
        pl.model_copy(update={"session": k})
        if course.pattern == "spread" and pl.session != k
        else pl
        for k, (_, pl) in enumerate(ordered)
    ]


def legal_as_kept(
    greedy: Greedy, course: Course, pls: list[Placement], slots: list[int | None]
) -> bool:
    """Whether the sessions (in session order) break no hard rule; if so they are committed."""
    ppd, first = greedy.grid.periods_per_day, slots[0]
    if first is None or any(s is None for s in slots):
        return False
    # Looked up once per course, not per session: most kept courses are checked only here.
    dom, attendance = greedy.builder.course_domains(course), greedy.problem.attendance(course)
    sites = [greedy.sites.get(pl.site) for pl in pls]
    if any(site is None or site.too_small(attendance) for site in sites):
        return False
    if course.pattern == "block" and any(
        pl.site != pls[0].site or s != first + pl.session * ppd
        for pl, s in zip(pls, slots, strict=True)
    ):
        return False
    taken: list[Session] = []
    for pl, s in zip(pls, slots, strict=True):
        assert s is not None
        start = first if course.pattern == "block" else s
        if not kept_session_legal(greedy, dom, pl, s, start):
            for t_s, site, t in taken:
                greedy.occ.release(course, t_s, site, t)
            return False
        greedy.occ.take(course, s, pl.site, pl.trainer)
        taken.append((s, pl.site, pl.trainer))
    return True


def kept_session_legal(
    greedy: Greedy, dom: CourseDomains, pl: Placement, slot: int, start: int
) -> bool:
    """One kept session (`start`: its course's start, a block's first day; its site known and
    big enough) against the hard rules of time and what is already committed, the course's own
    earlier sessions included. Asks the course's restrictions about this start only (building
    its options is what costs)."""
    if not dom.site_allows(pl.site, start) or not dom.trainer_allows(pl.trainer, slot):
        return False
    course = dom.course
    busy = greedy.occ.trainer[pl.trainer] | greedy.occ.site[pl.site] | greedy.cohorts_busy(course)
    return not busy & span_bits(slot, course.length)
