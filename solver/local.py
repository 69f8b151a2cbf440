"""A quick local search between the construction and the neighbourhood steps.

A CP-SAT step re-solves a neighbourhood of courses in about a second; on a plan far from good
(ITC-2007 comp07's construction pays 1,274, its best known schedule 6) most of what a step
finds is a session or two in a better place, which a move tried in microseconds finds too.
This search moves single sessions of spread courses (to another start, keeping their site and
trainer where they can stay, else to a free one, or taking the site from the session there),
swaps two sessions' times, swaps two times for a chain of clashing sessions (`kempe`), and
moves a block course whole (`block_move`). It keeps every hard rule by construction and
prices each move exactly by recomputing only the soft terms it touches (`Local.touched`).
Moves that cost nothing are taken too (plateaus are wide in timetabling) unless they crowd
the plan's or a unit's busiest times. The checker still judges its result: the solve offers
it like any other schedule.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from solver.domains import CourseDomains, DomainBuilder, site_charge, soft_blackouts
from solver.grid import TimeGrid
from solver.problem import Course, Placement, Problem, Weights

# Key of a soft-term component a move can change; its cost is recomputed before and after.
Key = tuple[str, str, int]  # (term, whose, when): ("day", cohort, day), ("peak", "", 0), ...
Spot = tuple[int, int, str, str]  # session index, start, site, trainer
# A move's change in cost, in crowding (`Local.crowding`), and where the sessions would go.
Priced = tuple[int, int, list[Spot]]


@dataclass
class Session:
    """A placed session, mutable while the search moves it."""

    course: Course
    index: int
    start: int
    site: str
    trainer: str


@dataclass(frozen=True)
class Budget:
    """How long the search may go: `moves` tried at most, and a wall clock deadline (None: the
    move count alone, so that one-worker runs stay reproducible)."""

    moves: int
    deadline: float | None = None


class Local:
    """The schedule as occupancy maps and per-component counts, for pricing moves exactly."""

    def __init__(
        self,
        problem: Problem,
        builder: DomainBuilder,
        weights: Weights,
        placements: Sequence[Placement],
        movable: set[str],
    ) -> None:
        self.problem, self.builder, self.weights = problem, builder, weights
        self.grid: TimeGrid = builder.grid
        self.ppd = self.grid.periods_per_day
        self.week_of = self.grid.week_of_day
        self.month_of = self.grid.month_of_day
        self.sessions: list[Session] = []
        for pl in placements:
            day = self.grid.day_index(pl.day)
            assert day is not None
            course = problem.course(pl.course)
            start = self.grid.slot(day, pl.period)
            self.sessions.append(Session(course, pl.session, start, pl.site, pl.trainer))
        self.attendance = {c.id: problem.attendance(c) for c in problem.courses}
        self.cohorts = {c.id: tuple(dict.fromkeys(c.cohorts)) for c in problem.courses}
        units = {q.id: q.unit for q in problem.cohorts}
        self.size = {q.id: q.size for q in problem.cohorts}
        self.caps = {
            u.id: math.floor(u.away_cap * u.headcount + 1e-9)
            for u in problem.units
            if u.away_cap is not None
        }
        # course -> (capped unit, cohort) pairs it sends away (as the checker counts them)
        self.sent = {
            c.id: [
                (units[q], q) for q in self.cohorts[c.id] if q in units and units[q] in self.caps
            ]
            for c in problem.courses
        }
        self.limits = {
            t.id: (t.max_sessions_per_week, t.max_sessions_per_month) for t in problem.trainers
        }
        self.soft = soft_blackouts(problem, builder, weights)
        self._own: dict[tuple[str, int, str, str], int] = {}
        self._cost: dict[Key, int] = {}  # components' costs in the schedule as it stands
        # occupancy: (resource, slot) -> session index
        self.site_at: dict[tuple[str, int], int] = {}
        self.trainer_at: dict[tuple[str, int], int] = {}
        self.cohort_at: dict[tuple[str, int], int] = {}
        self.days: dict[str, Counter[int]] = defaultdict(Counter)  # course -> day -> sessions
        self.sites: dict[str, Counter[str]] = defaultdict(Counter)  # course -> site -> sessions
        self.load: Counter[int] = Counter()  # slot -> sessions running
        self.load_hist: Counter[int] = Counter()  # load -> slots at it
        self.away: dict[str, Counter[int]] = defaultdict(Counter)  # unit -> slot -> cadres
        self.away_hist: dict[str, Counter[int]] = defaultdict(Counter)  # unit -> cadres -> slots
        self.taught: Counter[tuple[str, str, int]] = Counter()  # (trainer, week|month, n)
        for i in range(len(self.sessions)):
            self.put(i)
        self.moving = movable
        self.course_of = {c.id: c for c in problem.courses}
        self.domains: dict[str, CourseDomains] = {}  # of the courses whose sessions move
        self.small: dict[str, frozenset[str]] = {}  # their sites too small (capacity hard)
        sites = problem.site_by_id
        self.starts: dict[str, tuple[int, ...]] = {}  # a spread course's session starts
        self.block_starts: dict[str, tuple[int, ...]] = {}  # a block course's first day's
        for c in problem.courses:
            if c.id in movable:
                self.domains[c.id] = dom = builder.course_domains(c)
                self.small[c.id] = frozenset(
                    s for s in dom.sites if sites[s].too_small(self.attendance[c.id])
                )
                starts = self.starts if c.pattern == "spread" else self.block_starts
                starts[c.id] = tuple(sorted(dom.starts()))
        self.movable = [i for i, ss in enumerate(self.sessions) if self.starts.get(ss.course.id)]
        self.of_course: dict[str, list[int]] = defaultdict(list)  # a spread course's sessions
        for i in self.movable:
            self.of_course[self.sessions[i].course.id].append(i)
        blocks: dict[str, list[int]] = defaultdict(list)  # course -> its sessions in order
        for i, ss in sorted(enumerate(self.sessions), key=lambda x: x[1].index):
            if self.block_starts.get(ss.course.id):
                blocks[ss.course.id].append(i)
        self.blocks = [b for c, b in blocks.items() if len(b) == problem.course(c).sessions]

    def own(self, course: Course, start: int, site: str, trainer: str) -> int:
        """What a session pays alone: soft blackouts that apply to it, seats over a soft
        capacity, a site not preferred."""
        key = (course.id, start, site, trainer)
        cost = self._own.get(key)
        if cost is None:
            slots = range(start, start + course.length)
            units = dict.fromkeys(
                self.problem.cohort_by_id[q].unit
                for q in self.cohorts[course.id]
                if q in self.problem.cohort_by_id
            )
            names: list[tuple[str, str | None]] = [("plan", None)]
            names += [("unit", u) for u in units]
            names += [("cohort", q) for q in self.cohorts[course.id]]
            names += [("site", site), ("trainer", trainer), ("course", course.id)]
            cost = sum(
                c
                for name in names
                for covered, c in self.soft.get(name, ())
                if any(t in covered for t in slots)
            )
            site_obj = self.problem.site_by_id[site]
            cost += site_charge(self.weights, course, site_obj, self.attendance[course.id])
            self._own[key] = cost
        return cost

    # -- placing and lifting a session in the maps --

    def put(self, i: int) -> None:
        ss = self.sessions[i]
        cid, day = ss.course.id, self.grid.day_of(ss.start)
        for t in range(ss.start, ss.start + ss.course.length):
            self.site_at[(ss.site, t)] = i
            self.trainer_at[(ss.trainer, t)] = i
            for q in self.cohorts[cid]:
                self.cohort_at[(q, t)] = i
            self._bump(self.load, self.load_hist, t, 1)
            for u, q in self.sent[cid]:
                self._bump(self.away[u], self.away_hist[u], t, self.size[q])
        self.days[cid][day] += 1
        self.sites[cid][ss.site] += 1
        self.taught[(ss.trainer, "w", self.week_of[day])] += 1
        self.taught[(ss.trainer, "m", self.month_of[day])] += 1

    def lift(self, i: int) -> None:
        ss = self.sessions[i]
        cid, day = ss.course.id, self.grid.day_of(ss.start)
        for t in range(ss.start, ss.start + ss.course.length):
            del self.site_at[(ss.site, t)]
            del self.trainer_at[(ss.trainer, t)]
            for q in self.cohorts[cid]:
                del self.cohort_at[(q, t)]
            self._bump(self.load, self.load_hist, t, -1)
            for u, q in self.sent[cid]:
                self._bump(self.away[u], self.away_hist[u], t, -self.size[q])
        self.days[cid][day] -= 1
        if not self.days[cid][day]:
            del self.days[cid][day]
        self.sites[cid][ss.site] -= 1
        if not self.sites[cid][ss.site]:
            del self.sites[cid][ss.site]
        self.taught[(ss.trainer, "w", self.week_of[day])] -= 1
        self.taught[(ss.trainer, "m", self.month_of[day])] -= 1

    @staticmethod
    def _bump(level: Counter[int], hist: Counter[int], t: int, by: int) -> None:
        was = level[t]
        if was:
            hist[was] -= 1
            if not hist[was]:
                del hist[was]
        level[t] = was + by
        if was + by:
            hist[was + by] += 1

    # -- hard rules --

    def fits(self, course: Course, start: int, site: str, trainer: str, index: int = 0) -> bool:
        """Whether a session of the course (the `index`-th of a block) may be held there and
        then, by them, with nothing else of the site's, the trainer's or its cohorts' at that
        time. A block's time and site rules are on its first day's start."""
        # The maps first: a move is refused for a clash far more often than by a rule.
        site_at, trainer_at, cohort_at = self.site_at, self.trainer_at, self.cohort_at
        cohorts = self.cohorts[course.id]
        for t in range(start, start + course.length):
            if (site, t) in site_at or (trainer, t) in trainer_at:
                return False
            for q in cohorts:
                if (q, t) in cohort_at:
                    return False
        if site in self.small[course.id]:
            return False
        dom = self.domains[course.id]
        first = start - index * self.ppd if course.pattern == "block" else start
        return dom.site_allows(site, first) and dom.trainer_allows(trainer, start)

    # -- soft terms, component by component --

    def touched(self, course: Course, start: int, trainer: str) -> set[Key]:
        """The components whose cost depends on a session of the course held then by them
        (those of terms that weigh nothing left out)."""
        w, day = self.weights, self.grid.day_of(start)
        keys: set[Key] = set()
        if w.min_days or w.stability:
            keys.add(("course", course.id, 0))
        if w.load_peak:
            keys.add(("peak", "", 0))
        if w.compactness:
            keys.update(("day", q, day) for q in self.cohorts[course.id])
        if w.density:
            keys.update(("unit", u, 0) for u, _ in self.sent[course.id])
        if w.trainer_load and trainer in self.limits:
            keys.add(("week", trainer, self.week_of[day]))
            keys.add(("month", trainer, self.month_of[day]))
        return keys

    def cost(self, key: Key) -> int:
        w = self.weights
        term, whose, when = key
        if term == "course":
            cid = whose
            course = self.course_of[cid]
            short = course.wanted_days - len(self.days[cid]) if course.pattern == "spread" else 0
            extra = max(0, len(self.sites[cid]) - 1)
            return w.min_days * max(0, short) + w.stability * extra
        if term == "day":
            return w.compactness * self.isolated(whose, when)
        if term == "unit":
            hist = self.away_hist[whose]
            top = max(hist) if hist else 0
            return w.density * max(0, top - self.caps[whose])
        if term in ("week", "month"):
            limit = self.limits[whose][0 if term == "week" else 1]
            if limit is None:
                return 0
            return w.trainer_load * max(0, self.taught[(whose, term[0], when)] - limit)
        return w.load_peak * (max(self.load_hist) if self.load_hist else 0)

    def isolated(self, cohort: str, day: int) -> int:
        """The cohort's sessions that day with nothing of theirs just before or after."""
        first = day * self.ppd
        seen, count = -1, 0
        for t in range(first, first + self.ppd):
            i = self.cohort_at.get((cohort, t), -1)
            if i < 0 or i == seen:
                continue
            seen = i
            ss = self.sessions[i]
            length = ss.course.length
            if length >= self.ppd:
                continue
            before = ss.start > first and (cohort, ss.start - 1) in self.cohort_at
            end = ss.start + length
            after = end < first + self.ppd and (cohort, end) in self.cohort_at
            count += not before and not after
        return count

    def crowding(self, keys: Iterable[Key]) -> int:
        """Slots at the plan's peak load and at each touched unit's busiest time over its
        cap: a move that lowers them costs nothing yet brings the peak nearer to falling
        (a peak falls only when every slot at it loses a session), so the search prefers it
        among moves that cost nothing."""
        count = 0
        for term, whose, _ in keys:
            if term == "peak" and self.load_hist and self.weights.load_peak:
                count += self.load_hist[max(self.load_hist)]
            elif term == "unit" and self.weights.density:
                hist = self.away_hist[whose]
                top = max(hist) if hist else 0
                count += hist[top] if top > self.caps[whose] else 0
        return count

    def total(self, keys: Iterable[Key]) -> int:
        return sum(self.cost(k) for k in keys)

    def objective(self) -> int:
        """Every soft term this search prices, over the whole schedule (for tests: the checker
        must agree when nothing is left out or moved from a previous schedule)."""
        keys: set[Key] = set()
        for ss in self.sessions:
            keys |= self.touched(ss.course, ss.start, ss.trainer)
        own = sum(self.own(ss.course, ss.start, ss.site, ss.trainer) for ss in self.sessions)
        return own + self.total(keys)

    # -- moves --

    def price(
        self, moved: Sequence[tuple[int, int, Iterable[str], Sequence[str]]]
    ) -> Priced | None:
        """What moving each session i to its start costs, at the first of its sites and with
        the first of its trainers that fit, or None if one of them cannot go there. The
        sessions are lifted first, so they may take each other's place; nothing stays moved
        (`commit` makes the move)."""
        old = [self.spot_of(i) for i, _, _, _ in moved]
        for i, _, _, _ in moved:
            self.lift(i)
        new: list[Spot] = []
        for i, start, sites, trainers in moved:
            found = self.free_spot(self.sessions[i], start, sites, trainers)
            if found is None:
                break
            new.append((i, start, *found))
            self.set_spot(new[-1])
            self.put(i)
        if len(new) < len(moved):
            for spot in new:
                self.lift(spot[0])
            for spot in old:
                self.set_spot(spot)
                self.put(spot[0])
            return None
        keys: set[Key] = set()
        for spot in old + new:
            keys |= self.touched(self.sessions[spot[0]].course, spot[1], spot[3])
        after = self.total(keys) + sum(self.own_at(spot) for spot in new)
        crowded = self.crowding(keys)
        self.restore(new, old)
        before = self.standing(keys) + sum(self.own_at(spot) for spot in old)
        return after - before, crowded - self.crowding(keys), new

    def standing(self, keys: Iterable[Key]) -> int:
        """The components' costs in the schedule as it stands, remembered until a move
        changes them: most moves are refused, and the same components priced again."""
        known, total = self._cost, 0
        for key in keys:
            cost = known.get(key)
            if cost is None:
                cost = known[key] = self.cost(key)
            total += cost
        return total

    def commit(self, new: Sequence[Spot]) -> None:
        old = [self.spot_of(spot[0]) for spot in new]
        self.restore(old, new)
        for spot in old + list(new):
            for key in self.touched(self.sessions[spot[0]].course, spot[1], spot[3]):
                self._cost.pop(key, None)

    def reset(self, target: Sequence[Spot]) -> None:
        """Take every session to `target` (a snapshot)."""
        self.restore(self.snapshot(), target)
        self._cost.clear()

    def spot_of(self, i: int) -> Spot:
        ss = self.sessions[i]
        return i, ss.start, ss.site, ss.trainer

    def set_spot(self, spot: Spot) -> None:
        ss = self.sessions[spot[0]]
        ss.start, ss.site, ss.trainer = spot[1], spot[2], spot[3]

    def own_at(self, spot: Spot) -> int:
        return self.own(self.sessions[spot[0]].course, spot[1], spot[2], spot[3])

    def restore(self, current: Sequence[Spot], target: Sequence[Spot]) -> None:
        """Take the sessions from `current` to `target` (the same sessions)."""
        for spot in current:
            self.lift(spot[0])
        for spot in target:
            self.set_spot(spot)
            self.put(spot[0])

    def free_spot(
        self, ss: Session, start: int, sites: Iterable[str], trainers: Sequence[str]
    ) -> tuple[str, str] | None:
        """The first of the sites and trainers where the session fits at `start`."""
        for site in sites:
            for trainer in trainers:
                if self.fits(ss.course, start, site, trainer, ss.index):
                    return site, trainer
        return None

    def snapshot(self) -> list[Spot]:
        return [self.spot_of(i) for i in range(len(self.sessions))]

    def placements(self, spots: Sequence[Spot] | None = None) -> list[Placement]:
        """The schedule (or the one `spots` hold), each movable spread course's sessions
        numbered in time order (the model orders them so, and a step starts from these)."""
        out: list[Placement] = []
        by_course: dict[str, list[Session]] = defaultdict(list)
        for i, ss in enumerate(self.sessions):
            if spots is not None:
                _, start, site, trainer = spots[i]
                ss = Session(ss.course, ss.index, start, site, trainer)
            by_course[ss.course.id].append(ss)
        for sessions in by_course.values():
            course = sessions[0].course
            if course.pattern == "spread" and course.id in self.moving:
                sessions = sorted(sessions, key=lambda s: s.start)
                numbered = list(enumerate(sessions))
            else:
                numbered = [(s.index, s) for s in sessions]
            for k, s in numbered:
                out.append(
                    Placement(
                        course=s.course.id,
                        session=k,
                        day=self.grid.day_ref(self.grid.day_of(s.start)),
                        period=self.grid.period_of(s.start),
                        site=s.site,
                        trainer=s.trainer,
                    )
                )
        return out


# A one-worker run charges its deterministic clock this many local moves a second: between a
# city's plan (7k a second measured in session 12) and ITC's (15-20k). At 25,000 (session 11's
# figure, too high) a one-worker 3 s solve of S2 spent its 9 s wall-clock guard in local moves
# and made no step.
MOVES_PER_S = 10_000
# Of the moves tried, the share that swaps two times for a chain of clashing sessions (`kempe`)
KEMPE_SHARE = 0.2
KEMPE_MAX = 12
# Of the others, the share that takes a whole course to one site (`course_site`).
COURSE_SITE_SHARE = 0.05
# Of the others, the share that swaps two sessions' times and sites (the rest move one).
SWAP_SHARE = 0.3
# Of single moves, the share that keeps the session's start and tries another site.
SITE_SHARE = 0.15
# Of block moves, the share that tries another site.
BLOCK_SITE_SHARE = 0.3
# Of moves to a start where the session's site is taken, the share that takes it anyway and
# moves the session holding it elsewhere (tight plans have few free rooms at good times).
EJECT_SHARE = 0.5


class Picker:
    """Draws random moves: a block course as often as a spread course (a course, not a
    session, at a time), a spread course's session by `candidate`."""

    def __init__(self, local: Local) -> None:
        self.local = local
        self.movable, self.blocks = local.movable, local.blocks
        self.any = bool(self.movable or self.blocks)
        spread = len({local.sessions[i].course.id for i in self.movable})
        self.block_odds = len(self.blocks) / max(1, len(self.blocks) + spread)
        self.by_length: dict[int, list[int]] = defaultdict(list)
        for i in self.movable:
            self.by_length[local.sessions[i].course.length].append(i)

    def pick(self, rng: random.Random) -> Priced | None:
        if rng.random() < self.block_odds:
            return block_move(self.local, rng, rng.choice(self.blocks))
        return candidate(self.local, rng, rng.choice(self.movable), self.by_length)


def improve(local: Local, rng: random.Random, budget: Budget) -> int:
    """Try moves until the budget is spent; keep those that save, and those that cost
    nothing and crowd the peaks no more. Returns the saving."""
    picker = Picker(local)
    if not picker.any:
        return 0
    saved = 0
    for n in range(budget.moves):
        if budget.deadline is not None and n % 128 == 0 and time.monotonic() > budget.deadline:
            break
        priced = picker.pick(rng)
        if priced is None:
            continue
        delta, crowding, new = priced
        if delta < 0 or (delta == 0 and crowding <= 0):
            local.commit(new)
            saved -= delta
    return saved


def candidate(
    local: Local, rng: random.Random, i: int, by_length: dict[int, list[int]]
) -> Priced | None:
    """A random move of session i, priced (None if it does not fit)."""
    ss = local.sessions[i]
    if rng.random() < KEMPE_SHARE:
        return kempe(local, rng, i)
    if rng.random() < COURSE_SITE_SHARE:
        return course_site(local, rng, ss.course.id)
    if rng.random() < SWAP_SHARE:
        j = rng.choice(by_length[ss.course.length])
        other = local.sessions[j]
        if other.course.id == ss.course.id or other.start == ss.start:
            return None
        return local.price(
            [
                (i, other.start, [other.site], [ss.trainer]),
                (j, ss.start, [ss.site], [other.trainer]),
            ]
        )
    if rng.random() < SITE_SHARE:
        return local.price(
            [
                (
                    i,
                    ss.start,
                    mixed(rng, None, local.domains[ss.course.id].sites, ss.site),
                    [ss.trainer],
                )
            ]
        )
    start = rng.choice(local.starts[ss.course.id])
    if start == ss.start:
        return None
    holder = local.site_at.get((ss.site, start))
    if holder is not None and rng.random() < EJECT_SHARE:
        # Its site is taken then: take it, and send the session there somewhere else.
        other = local.sessions[holder]
        if other.course.id == ss.course.id or not local.starts.get(other.course.id):
            return None
        to = rng.choice(local.starts[other.course.id])
        return local.price(
            [
                (i, start, [ss.site], options(local, rng, ss, trainers_only=True)[1]),
                (holder, to, *options(local, rng, other)),
            ]
        )
    return local.price([(i, start, *options(local, rng, ss))])


def course_site(local: Local, rng: random.Random, course: str) -> Priced | None:
    """Every session of a spread course to one site, at its time: where a session of
    another course holds the site then (same start and length), the two swap sites. A
    course that wanders between sites pays stability for each; moving its sessions one at a
    time to a common site is a climb (the first one moved pays for a new site) that this
    move makes in one step."""
    site = rng.choice(list(local.domains[course].sites))
    moved: list[tuple[int, int, Iterable[str], Sequence[str]]] = []
    taken: set[int] = set()
    for k in local.of_course[course]:
        sk = local.sessions[k]
        if sk.site == site:
            continue
        moved.append((k, sk.start, [site], [sk.trainer]))
        holder = local.site_at.get((site, sk.start))
        if holder is None:
            continue
        other = local.sessions[holder]
        if (
            holder in taken
            or other.start != sk.start
            or other.course.length != sk.course.length
            or not local.starts.get(other.course.id)
        ):
            return None
        taken.add(holder)
        moved.append((holder, other.start, [sk.site], [other.trainer]))
    return local.price(moved) if moved else None


def block_move(local: Local, rng: random.Random, block: list[int]) -> Priced | None:
    """A block course's sessions to another first day, at its site or (BLOCK_SITE_SHARE of
    the time) another, each with its trainer if free then, else another qualified one."""
    first = local.sessions[block[0]]
    dom = local.domains[first.course.id]
    start = rng.choice(local.block_starts[first.course.id])
    site = rng.choice(list(dom.sites)) if rng.random() < BLOCK_SITE_SHARE else first.site
    if start == first.start and site == first.site:
        return None
    moved = []
    for k in block:
        sk = local.sessions[k]
        trainers = [t for t in dom.trainers if t != sk.trainer]
        rng.shuffle(trainers)
        moved.append((k, start + sk.index * local.ppd, [site], [sk.trainer, *trainers]))
    return local.price(moved)


def kempe(local: Local, rng: random.Random, i: int) -> Priced | None:
    """Session i's time swapped with another start's, together with every session that
    would clash with one moved there (sharing a cohort or the trainer), and with those that
    would then clash, and so on: the chain of the two times' clashes (a Kempe chain, the
    classic move of timetabling). None where the chain reaches a session that cannot go
    (another length or start, a block, a fixed course) or grows past KEMPE_MAX."""
    ss = local.sessions[i]
    here, length = ss.start, ss.course.length
    there = rng.choice(local.starts[ss.course.id])
    if there == here:
        return None
    chain, queue = {i}, [i]
    while queue:
        held = local.sessions[queue.pop()]
        to = there if held.start == here else here
        keys = [(q, t) for q in local.cohorts[held.course.id] for t in range(to, to + length)]
        found = {local.cohort_at.get(key) for key in keys}
        found |= {local.trainer_at.get((held.trainer, t)) for t in range(to, to + length)}
        for j in found - chain - {None}:
            assert j is not None
            other = local.sessions[j]
            if (
                other.start != to
                or other.course.length != length
                or not local.starts.get(other.course.id)
                or len(chain) >= KEMPE_MAX
            ):
                return None
            chain.add(j)
            queue.append(j)
    moved = []
    for k in sorted(chain):
        sk = local.sessions[k]
        sites = mixed(rng, sk.site, local.domains[sk.course.id].sites)
        moved.append((k, there if sk.start == here else here, sites, [sk.trainer]))
    return local.price(moved)


def options(
    local: Local, rng: random.Random, ss: Session, trainers_only: bool = False
) -> tuple[Iterable[str], list[str]]:
    """Sites and trainers to try for a session moved elsewhere: its own first (a course that
    stays at one site and with one trainer pays no stability and keeps its trainer), then
    the others in random order."""
    dom = local.domains[ss.course.id]
    sites = [ss.site] if trainers_only else mixed(rng, ss.site, dom.sites)
    trainers = [t for t in dom.trainers if t != ss.trainer]
    if trainers:
        rng.shuffle(trainers)
    return sites, [ss.trainer, *trainers]


def mixed(
    rng: random.Random, first: str | None, pool: Iterable[str], skip: str | None = None
) -> Iterator[str]:
    """`first` (if any), then the rest of `pool` (but `skip`) in random order, shuffled
    only when the search gets past the first: it mostly stays (a seventh of a move's time
    went to shuffling sites it never looked at)."""
    if first is not None:
        yield first
    rest = [x for x in pool if x != first and x != skip]
    rng.shuffle(rest)
    yield from rest


class Anneal:
    """Simulated annealing over the same moves as `improve`: a move that costs more is taken
    with odds exp(-delta / temperature), so that the search climbs out of the local optima
    where descent stalls (ITC-2007 comp07 from the settled construction, 120 s: 61-63 where
    descent with plateau moves stalls at 83). The caller sets the temperature as its budget
    runs down; the best schedule seen is kept (copied only when the search leaves it)."""

    rate = MOVES_PER_S  # one worker's charge for its moves
    round = 5_000  # moves between looks at the clock

    def __init__(self, local: Local, rng: random.Random) -> None:
        self.local, self.rng = local, rng
        self.cost = self.best = local.objective()
        self.best_spots: list[Spot] | None = None  # None: the current schedule is the best
        self.picker = Picker(local)

    def run(self, moves: int, temperature: float) -> int:
        """Try `moves` moves at `temperature`; returns what the best schedule gained."""
        local, rng, picker = self.local, self.rng, self.picker
        if not picker.any:
            return 0
        was = self.best
        for _ in range(moves):
            priced = picker.pick(rng)
            if priced is None:
                continue
            delta, crowding, new = priced
            if delta > 0:
                if rng.random() >= math.exp(-delta / temperature):
                    continue
                if self.best_spots is None:  # leaving the best: keep a copy
                    self.best_spots = local.snapshot()
            elif delta == 0 and crowding > 0:
                continue
            local.commit(new)
            self.cost += delta
            if self.cost < self.best:
                self.best, self.best_spots = self.cost, None
        return was - self.best

    def reseed(self, seed: int) -> None:
        """Draw other moves from here on (a second search forked from this one)."""
        self.rng = random.Random(seed)

    def best_placements(self) -> list[Placement]:
        return self.local.placements(self.best_spots)

    def finish(self) -> None:
        """Leave the search's state at the best schedule seen."""
        if self.best_spots is not None:
            self.local.reset(self.best_spots)
            self.cost, self.best_spots = self.best, None


class Annealer(Protocol):
    """What a solve needs of an annealing search: `Anneal`, or the compiled
    `solver.kernel.Kernel` where it applies."""

    rate: int
    round: int
    local: Local

    @property
    def best(self) -> int: ...

    def run(self, moves: int, temperature: float) -> int: ...

    def reseed(self, seed: int) -> None: ...

    def best_placements(self) -> list[Placement]: ...

    def finish(self) -> None: ...


def anneal_until(
    sa: Annealer, hot: float, cold: float, until: float, floor: int
) -> tuple[int, list[Spot]]:
    """Anneal until the monotonic clock reads `until` (or the best reaches `floor`), the
    temperature falling from `hot` to `cold` over the time; the best cost and schedule seen.
    For a second search on the other core (`solver.solve`)."""
    began = time.monotonic()
    while (now := time.monotonic()) < until and sa.best > floor:
        sa.run(sa.round // 5, hot * (cold / hot) ** ((now - began) / max(until - began, 1e-9)))
    sa.finish()
    return sa.best, sa.local.snapshot()
