"""A fast greedy construction: places every course it can, hardest first, cheapest slot first.

It gives the first feasible schedule in well under a second on a city's year and a hint from
which CP-SAT starts; whatever it cannot place is left to CP-SAT (and is listed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from solver.domains import CourseDomains, DomainBuilder
from solver.grid import TimeGrid
from solver.problem import Blackout, Course, Placement, Problem, Weights


@dataclass
class Occupancy:
    """Which slots each site, trainer and cohort already uses, and the load per slot."""

    site: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    trainer: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    cohort: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    load: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    trainer_week: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))

    def take(self, course: Course, slot: int, site: str, trainer: str, week: int) -> None:
        span = range(slot, slot + course.length)
        self.site[site].update(span)
        self.trainer[trainer].update(span)
        for q in course.cohorts:
            self.cohort[q].update(span)
        for s in span:
            self.load[s] += 1
        self.trainer_week[(trainer, week)] += 1


@dataclass(frozen=True)
class Construction:
    placements: tuple[Placement, ...]
    unplaced: tuple[str, ...]  # course ids the greedy could not place


# How much expected demand by later courses weighs against soft costs when choosing a place.
HEAT_COST = 40.0


class Greedy:
    """Places one course at a time into the occupancy, never breaking a hard rule."""

    def __init__(self, problem: Problem, grid: TimeGrid, weights: Weights) -> None:
        self.problem, self.grid, self.weights = problem, grid, weights
        self.builder = DomainBuilder(problem, grid)
        self.occ = Occupancy()
        self.sites = {s.id: s for s in problem.sites}
        self.trainers = {t.id: t for t in problem.trainers}
        self.soft = self._soft_blackouts()
        self.doms = {c.id: self.builder.course_domains(c) for c in problem.courses}
        self._time_cost: dict[str, dict[int, int]] = {}
        # Expected demand of not-yet-placed courses per site and day: placing a course where
        # others will need the room anyway is what makes greedy schedules dead-end.
        self.heat: dict[str, list[float]] = defaultdict(lambda: [0.0] * grid.n_days)
        for dom in self.doms.values():
            self.add_heat(dom, 1.0)

    def _soft_blackouts(self) -> list[tuple[int, Blackout, frozenset[int]]]:
        out = []
        for b in self.problem.blackouts:
            if not b.hard:
                cost = self.weights.soft_blackout if b.weight is None else b.weight
                out.append((cost, b, self.builder.covered(b.window)))
        return out

    def add_heat(self, dom: CourseDomains, sign: float) -> None:
        starts = dom.starts()
        if not starts or not dom.sites:
            return
        ppd = self.grid.periods_per_day
        lo, hi = min(starts) // ppd, max(starts) // ppd
        if dom.course.pattern == "block":
            hi += dom.course.sessions - 1
        hi = min(hi, self.grid.n_days - 1)
        per_day = (
            sign * dom.course.sessions * dom.course.length / ((hi - lo + 1) * ppd * len(dom.sites))
        )
        for site in dom.sites:
            row = self.heat[site]
            for d in range(lo, hi + 1):
                row[d] += per_day

    def heat_at(self, site: str, slot: int) -> float:
        return self.heat[site][self.grid.day_of(slot)]

    def _session_cost(self, course: Course, slot: int) -> int:
        """Plan/unit/cohort/course soft-blackout cost of one session starting at `slot`."""
        costs = self._time_cost.get(course.id)
        if costs is None:
            costs = defaultdict(int)
            for weight, b, covered in self.soft:
                if b.scope in ("site", "trainer") or not self.builder.blackout_applies_in_time(
                    b, course
                ):
                    continue
                free = self.builder.starts_avoiding(covered, course.length)
                for st in self.builder.working_starts(course.length) - free:
                    costs[st] += weight
            self._time_cost[course.id] = costs
        return costs.get(slot, 0)

    def soft_cost(self, course: Course, slot: int, site: str, trainer: str | None) -> int:
        """Soft-blackout, capacity and preferred-site cost of one session at one place."""
        cost = self._session_cost(course, slot)
        span = range(slot, slot + course.length)
        for weight, b, covered in self.soft:
            if b.scope == "site" and b.target == site and any(x in covered for x in span):
                cost += weight
        s = self.sites[site]
        if not s.capacity_hard:
            cost += self.weights.capacity_overflow * max(
                0, self.problem.attendance(course) - s.capacity
            )
        if course.preferred_sites and site not in course.preferred_sites:
            cost += self.weights.preferred_site
        return cost

    def free(self, course: Course, slot: int, site: str) -> bool:
        span = range(slot, slot + course.length)
        if any(s in self.occ.site[site] for s in span):
            return False
        return not any(s in self.occ.cohort[q] for q in course.cohorts for s in span)

    def trainer_for(
        self, course: Course, slot: int, dom: CourseDomains, prefer: str | None
    ) -> str | None:
        """A qualified, available, free trainer: the preferred one, else the least busy."""
        span = range(slot, slot + course.length)
        week = self.grid.week_of_day[self.grid.day_of(slot)]
        best: tuple[int, str] | None = None
        for t, restrictions in dom.trainers.items():
            if any(slot not in r.allowed for r in restrictions):
                continue
            if any(s in self.occ.trainer[t] for s in span):
                continue
            limit = self.trainers[t].max_sessions_per_week
            over = int(limit is not None and self.occ.trainer_week[(t, week)] >= limit)
            rank = (over, 0 if t == prefer else 1, len(self.occ.trainer[t]))
            key = (rank[0] * 2 + rank[1]) * 10**6 + rank[2]
            if best is None or key < best[0]:
                best = (key, t)
        return None if best is None else best[1]

    def load_of(self, slot: int, length: int) -> int:
        return max(self.occ.load[s] for s in range(slot, slot + length))

    def place_block(self, dom: CourseDomains) -> list[Placement] | None:
        course, ppd = dom.course, self.grid.periods_per_day
        best: tuple[tuple[float, int, int], int, str, list[str]] | None = None
        for site in dom.sites:
            site_obj = self.sites[site]
            if site_obj.capacity_hard and self.problem.attendance(course) > site_obj.capacity:
                continue
            for b in sorted(dom.site_starts(site)):
                starts = [b + k * ppd for k in range(course.sessions)]
                if not all(self.free(course, s, site) for s in starts):
                    continue
                cost = sum(self.soft_cost(course, s, site, None) for s in starts)
                heat = sum(self.heat_at(site, s) for s in starts)
                load = max(self.load_of(s, course.length) for s in starts)
                rank = (cost + heat * HEAT_COST, load, b)
                if best is not None and rank >= best[0]:
                    continue
                trainers: list[str] = []
                for s in starts:
                    t = self.trainer_for(course, s, dom, trainers[-1] if trainers else None)
                    if t is None:
                        break
                    trainers.append(t)
                    self.occ.trainer[t].update(range(s, s + course.length))
                for t, s in zip(trainers, starts, strict=False):
                    self.occ.trainer[t].difference_update(range(s, s + course.length))
                if len(trainers) == len(starts):
                    best = (rank, b, site, trainers)
        if best is None:
            return None
        _, b, site, trainers = best
        return [
            self.commit(course, k, b + k * ppd, site, trainers[k]) for k in range(course.sessions)
        ]

    def place_spread(self, dom: CourseDomains) -> list[Placement] | None:
        course = dom.course
        chosen: list[tuple[int, str, str]] = []
        days_used: set[int] = set()
        site_pref: str | None = None
        for _ in range(course.sessions):
            best: tuple[tuple[float, ...], int, str, str] | None = None
            for site in ([site_pref] if site_pref else []) + [
                s for s in dom.sites if s != site_pref
            ]:
                site_obj = self.sites[site]
                if site_obj.capacity_hard and self.problem.attendance(course) > site_obj.capacity:
                    continue
                for s in dom.site_starts(site):
                    if not self.free(course, s, site):
                        continue
                    day = self.grid.day_of(s)
                    rank = (
                        int(day in days_used and len(days_used) < course.wanted_days),
                        self.soft_cost(course, s, site, None)
                        + (0 if site == site_pref else self.weights.stability)
                        + self.heat_at(site, s) * HEAT_COST,
                        self.load_of(s, course.length),
                        s,
                    )
                    if best is not None and rank >= best[0]:
                        continue
                    t = self.trainer_for(course, s, dom, chosen[-1][2] if chosen else None)
                    if t is not None:
                        best = (rank, s, site, t)
            if best is None:
                for s, site, t in chosen:  # undo this course
                    self.release(course, s, site, t)
                return None
            _, s, site, t = best
            self.occ.take(course, s, site, t, self.grid.week_of_day[self.grid.day_of(s)])
            chosen.append((s, site, t))
            days_used.add(self.grid.day_of(s))
            site_pref = site_pref or site
        chosen.sort()
        return [self.placement(course, k, s, site, t) for k, (s, site, t) in enumerate(chosen)]

    def release(self, course: Course, slot: int, site: str, trainer: str) -> None:
        span = range(slot, slot + course.length)
        self.occ.site[site].difference_update(span)
        self.occ.trainer[trainer].difference_update(span)
        for q in course.cohorts:
            self.occ.cohort[q].difference_update(span)
        for s in span:
            self.occ.load[s] -= 1
        self.occ.trainer_week[(trainer, self.grid.week_of_day[self.grid.day_of(slot)])] -= 1

    def commit(self, course: Course, k: int, slot: int, site: str, trainer: str) -> Placement:
        self.occ.take(course, slot, site, trainer, self.grid.week_of_day[self.grid.day_of(slot)])
        return self.placement(course, k, slot, site, trainer)

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


def difficulty(dom: CourseDomains, problem: Problem) -> tuple[float, ...]:
    """Hardest first: required, then fewest places per session of work, then biggest."""
    course = dom.course
    places = sum(len(dom.site_starts(s)) for s in dom.sites)
    return (
        0 if course.required else 1,
        places / (course.sessions * course.length),
        -problem.attendance(course),
    )


def construct(
    problem: Problem,
    grid: TimeGrid,
    weights: Weights,
    keep: Sequence[Placement] = (),
    skip: set[str] | frozenset[str] = frozenset(),
) -> Construction:
    """Greedy schedule. `keep` are sessions already decided (pins, frozen, a previous schedule
    being repaired): whole courses among them are kept as they are when still valid."""
    greedy = Greedy(problem, grid, weights)
    doms = greedy.doms
    placements: list[Placement] = []
    kept_courses = kept_whole_courses(problem, grid, greedy, doms, keep)
    for pls in kept_courses.values():
        placements.extend(pls)
    unplaced = sorted(set(skip) - set(kept_courses))
    order = sorted(
        (d for cid, d in doms.items() if cid not in kept_courses and cid not in skip),
        key=lambda d: difficulty(d, problem),
    )
    for dom in order:
        greedy.add_heat(dom, -1.0)
        placed = (
            greedy.place_block(dom) if dom.course.pattern == "block" else greedy.place_spread(dom)
        )
        if placed is None:
            unplaced.append(dom.course.id)
        else:
            placements.extend(placed)
    return Construction(tuple(placements), tuple(unplaced))


def kept_whole_courses(
    problem: Problem,
    grid: TimeGrid,
    greedy: Greedy,
    doms: dict[str, CourseDomains],
    keep: Sequence[Placement],
) -> dict[str, list[Placement]]:
    """Courses whose kept sessions are complete and still legal, committed to the occupancy."""
    by_course: dict[str, list[Placement]] = defaultdict(list)
    for pl in keep:
        by_course[pl.course].append(pl)
    out: dict[str, list[Placement]] = {}
    for course_id, pls in by_course.items():
        dom = doms.get(course_id)
        if dom is None or len(pls) != dom.course.sessions:
            continue
        course = dom.course
        slots = []
        for pl in sorted(pls, key=lambda p: p.session):
            day = grid.day_index(pl.day)
            slots.append(None if day is None else grid.slot(day, pl.period))
        if not legal_as_kept(greedy, dom, pls, slots):
            continue
        for pl, s in zip(sorted(pls, key=lambda p: p.session), slots, strict=True):
            assert s is not None
            greedy.occ.take(course, s, pl.site, pl.trainer, grid.week_of_day[grid.day_of(s)])
        ordered = sorted(
            zip(slots, sorted(pls, key=lambda p: p.session), strict=True), key=lambda x: x[0] or 0
        )
        out[course_id] = [
            pl.model_copy(update={"session": k}) if course.pattern == "spread" else pl
            for k, (_, pl) in enumerate(ordered)
        ]
    return out


def legal_as_kept(
    greedy: Greedy, dom: CourseDomains, pls: list[Placement], slots: list[int | None]
) -> bool:
    course = dom.course
    ppd = greedy.grid.periods_per_day
    if any(s is None for s in slots):
        return False
    starts = dom.starts()
    for pl, s in zip(sorted(pls, key=lambda p: p.session), slots, strict=True):
        assert s is not None
        first = slots[0] if course.pattern == "block" else s
        assert first is not None
        if course.pattern == "block" and (pl.site != pls[0].site or s != first + pl.session * ppd):
            return False
        if first not in starts or pl.site not in dom.sites or first not in dom.site_starts(pl.site):
            return False
        site = greedy.sites[pl.site]
        if site.capacity_hard and greedy.problem.attendance(course) > site.capacity:
            return False
        restrictions = dom.trainers.get(pl.trainer)
        if restrictions is None or any(s not in r.allowed for r in restrictions):
            return False
        span = range(s, s + course.length)
        if any(x in greedy.occ.trainer[pl.trainer] for x in span) or not greedy.free(
            course, s, pl.site
        ):
            return False
    return True
