"""Lower bounds the product computes itself, so that the reported gap means something even
when CP-SAT's bound on the whole plan is weak.

The objective is a sum of terms, so bounds on disjoint parts of it add up. The terms of time
(soft blackouts; spread days; compactness; density; courses left out) and what a session pays
for its site and trainer (capacity overflow, a site not preferred, their soft blackouts, at the
least at each start) are bounded per group of courses that share none of them with another
group, by a relaxation CP-SAT solves with sites and trainers dropped; the plan's load peak and
trainers' load are bounded by counting.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model as cp

from solver.domains import (
    Costed,
    CourseDomains,
    DomainBuilder,
    intersect,
    site_charge,
    soft_blackouts,
)
from solver.grid import TimeGrid
from solver.problem import Course, Problem, Weights
from solver.solution import RepairPolicy

# A course of several units joins their groups only while the joined group stays this small;
# a bigger one is split into a part per group (see `time_groups`).
JOIN_MAX_SESSIONS = 200
# What relaxing a group costs beyond CP-SAT's deterministic time, charged to the budget so
# that which groups get relaxed (and so the bound) does not depend on the machine: building
# the model in Python and CP-SAT's presolve, which its clock undercounts (measured on S, M
# and L: about 0.3 ms a session and 2 ms a group).
COST_PER_SESSION = 0.0005
COST_PER_GROUP = 0.002
# Stretches of time the load-peak bound looks at, at most (first slot x last slot).
MAX_PEAK_CELLS = 250_000
# The least deterministic time a relaxed group may take; most prove their optimum in far less.
MIN_SLICE = 0.05


def lower_bound(
    problem: Problem,
    grid: TimeGrid,
    weights: Weights,
    policy: RepairPolicy,
    builder: DomainBuilder | None = None,
    time_limit: float = 5.0,
) -> int:
    """A cost no schedule can beat. `time_limit` is spent (in deterministic seconds) on the
    relaxations of the groups, smallest first; groups beyond it get counted bounds."""
    builder = builder or DomainBuilder(problem, grid)
    times = CourseTimes.of(problem, builder, weights)
    return (
        load_peak_bound(problem, builder, weights)
        + trainer_load_bound(problem, builder, weights, times)
        + time_terms_bound(problem, builder, weights, times, time_limit)
    )


@dataclass(frozen=True)
class CourseTimes:
    """Per course: where it may start as far as time alone tells (`time_domain`), and the
    least it pays at each of those starts (`start_costs`)."""

    starts: dict[str, frozenset[int]]
    free: dict[tuple[str, int], frozenset[int]]  # (trainer, length) -> session starts they can
    costs: dict[str, dict[int, int]]  # course -> start -> least cost there (0s left out)

    @staticmethod
    def of(problem: Problem, builder: DomainBuilder, weights: Weights) -> CourseTimes:
        prices = StartPrices(problem, builder, weights)
        starts = {c.id: time_domain(problem, builder, c, prices.free) for c in problem.courses}
        costs = {c.id: prices.of(c, starts[c.id]) for c in problem.courses}
        return CourseTimes(starts, prices.free, costs)


class StartPrices:
    """The least a course pays at each of its starts (`start_costs`), asked course by course:
    the bound asks for every course, a search step for the few it aims at."""

    def __init__(self, problem: Problem, builder: DomainBuilder, weights: Weights) -> None:
        self.problem, self.builder, self.weights = problem, builder, weights
        self.named = soft_blackouts(problem, builder, weights)
        self.unit_of = {q.id: q.unit for q in problem.cohorts}
        self.free: dict[tuple[str, int], frozenset[int]] = {}  # see `trainer_starts`

    def of(self, course: Course, starts: frozenset[int]) -> dict[int, int]:
        """`start_costs` of the course at these starts."""
        named = self.named
        units = sorted({self.unit_of[q] for q in course.cohorts if q in self.unit_of})
        own = [
            *named.get(("plan", None), []),
            *named.get(("course", course.id), []),
            *(x for q in course.cohorts for x in named.get(("cohort", q), [])),
            *(x for u in units for x in named.get(("unit", u), [])),
        ]
        return start_costs(
            self.problem, self.builder, self.weights, course, starts, self.free, named, own
        )


def blackout_costs(
    builder: DomainBuilder, length: int, slots: frozenset[int], blackouts: Costed
) -> dict[int, int]:
    """What a session of `length` starting at each of `slots` pays in `blackouts` (slots that
    pay nothing are left out)."""
    cost_at: dict[int, int] = defaultdict(int)
    for covered, cost in blackouts:
        for s in slots - builder.starts_avoiding(covered, length):
            cost_at[s] += cost
    return dict(cost_at)


def start_costs(
    problem: Problem,
    builder: DomainBuilder,
    weights: Weights,
    course: Course,
    starts: frozenset[int],
    free: dict[tuple[str, int], frozenset[int]],
    named: dict[tuple[str, str | None], Costed],
    own: Costed,
) -> dict[int, int]:
    """The least a course pays at each of its starts (a block: for the whole block, held at
    one site; starts that pay nothing left out): the soft blackouts that apply to it whatever
    its site and trainer (`own`), and for where and by whom it is held: seats over a soft
    capacity, a site it does not prefer, the site's and the trainer's soft blackouts. Each site
    and trainer is taken on its own, free of the others' courses: a bound, not a schedule, but
    one the relaxation can trade against the time terms (a sole trainer's soft blackout over
    the cheap weeks)."""
    if not starts:
        return {}
    dom = builder.course_domains(course)
    ppd, attendance = builder.grid.periods_per_day, problem.attendance(course)
    offsets = [k * ppd for k in range(course.sessions)] if course.pattern == "block" else [0]
    sessions = frozenset(s + o for s in starts for o in offsets)
    sites: list[tuple[frozenset[int], int, dict[int, int]]] = []
    for site_id in dom.sites:
        site = problem.site_by_id[site_id]
        usable = dom.site_starts(site_id) & starts
        if site.too_small(attendance) or not usable:
            continue
        each = site_charge(weights, course, site, attendance)
        hit = blackout_costs(builder, course.length, sessions, named.get(("site", site_id), []))
        extra = {s: sum(hit.get(s + o, 0) for o in offsets) for s in usable} if hit else {}
        sites.append((usable, each * len(offsets), {s: c for s, c in extra.items() if c}))
    trainers = []
    for trainer_id in dom.trainers:
        usable = sessions & trainer_starts(builder, dom, trainer_id, free)
        costed = named.get(("trainer", trainer_id), [])
        trainers.append((usable, 0, blackout_costs(builder, course.length, usable, costed)))
    per_session = least_at(trainers) if any(extra for _, _, extra in trainers) else {}
    at = blackout_costs(builder, course.length, sessions, own)
    out = least_at(sites)
    for table in (per_session, at):  # a session's cost, on the start of its block
        for x, cost in table.items():
            for o in offsets:
                if x - o in starts:
                    out[x - o] = out.get(x - o, 0) + cost
    return {s: c for s, c in out.items() if c}


def least_at(options: Sequence[tuple[frozenset[int], int, dict[int, int]]]) -> dict[int, int]:
    """Per start, the cheapest of the options that can take it: each option is the starts it
    can take, its cost at any of them and what some of them cost on top."""
    best: dict[int, int] = {}
    for usable, each, extra in sorted(options, key=lambda o: o[1]):
        if not extra:  # cheapest first: a start taken already costs no more
            best.update(dict.fromkeys(usable - best.keys(), each))
    for usable, each, extra in options:
        if extra:
            for s in usable:
                cost = each + extra.get(s, 0)
                if cost < best.get(s, cost + 1):
                    best[s] = cost
    return best


def time_domain(
    problem: Problem,
    builder: DomainBuilder,
    course: Course,
    free: dict[tuple[str, int], frozenset[int]],
) -> frozenset[int]:
    """Where the course may start as far as time alone tells: its window and hard blackouts,
    some site big enough and open then, some qualified trainer free for every session
    (block starts for a block course, session starts for a spread one). `free` caches the
    trainers' session starts."""
    dom = builder.course_domains(course)
    attendance = problem.attendance(course)
    starts: set[int] = set()
    for site_id in dom.sites:
        site = problem.site_by_id[site_id]
        if not site.too_small(attendance):
            starts |= dom.site_starts(site_id)
    starts &= dom.starts()
    block = course.pattern == "block"
    step = builder.grid.periods_per_day
    wanted = {s + k * step for s in starts for k in range(course.sessions)} if block else starts
    taught: set[int] = set()
    for trainer_id in dom.trainers:
        taught |= wanted & trainer_starts(builder, dom, trainer_id, free)
        if len(taught) == len(wanted):
            break
    if not block:
        return frozenset(taught)
    for k in range(course.sessions):  # a block starts where each of its sessions is taught
        starts &= {t - k * step for t in taught}
    return frozenset(starts)


def trainer_starts(
    builder: DomainBuilder,
    dom: CourseDomains,
    trainer_id: str,
    free: dict[tuple[str, int], frozenset[int]],
) -> frozenset[int]:
    """Session starts of the course's length when the trainer can teach, cached in `free`
    (a trainer's restrictions depend on nothing else of the course)."""
    key = (trainer_id, dom.course.length)
    if key not in free:
        free[key] = intersect(builder.working_starts(dom.course.length), dom.trainers[trainer_id])
    return free[key]


# ---------------------------------------------------------------------------------------------
# The plan's load, trainers' load


def load_peak_bound(problem: Problem, builder: DomainBuilder, weights: Weights) -> int:
    """The busiest period runs at least the average load of any stretch of time that some
    required courses must fit into (pigeonhole over the course windows)."""
    if weights.load_peak == 0:
        return 0
    spans: list[tuple[int, int, int]] = []  # (first slot, last slot, periods of work)
    for course in problem.courses:
        if not course.required:
            continue
        starts = builder.course_domains(course).starts()
        if not starts:
            continue
        step = builder.grid.periods_per_day if course.pattern == "block" else 0
        last = max(starts) + step * (course.sessions - 1) + course.length - 1
        spans.append((min(starts), last, course.sessions * course.length))
    if not spans:
        return 0
    edges_lo = sorted({s[0] for s in spans})
    edges_hi = sorted({s[1] for s in spans})
    if len(edges_lo) * len(edges_hi) > MAX_PEAK_CELLS:  # keep it cheap on long calendars
        edges_lo = edges_lo[:: -(-len(edges_lo) // 500)]
        edges_hi = edges_hi[:: -(-len(edges_hi) // 500)]
    # work[i][j]: periods of work of the courses that must fit within edges_lo[i]..edges_hi[j]
    # (first >= lo, last <= hi), each course added once to the cell of the tightest stretch
    # around it, then summed over i downwards and j upwards.
    n_lo, n_hi = len(edges_lo), len(edges_hi)
    work = [[0] * n_hi for _ in range(n_lo)]
    for first, last, periods in spans:
        i = bisect.bisect_right(edges_lo, first) - 1
        j = bisect.bisect_left(edges_hi, last)
        if i >= 0 and j < n_hi:
            work[i][j] += periods
    for row in work:
        for j in range(1, n_hi):
            row[j] += row[j - 1]
    for i in range(n_lo - 2, -1, -1):
        below, row = work[i + 1], work[i]
        for j in range(n_hi):
            row[j] += below[j]
    best = 1
    for i, lo in enumerate(edges_lo):
        row = work[i]
        for j in range(bisect.bisect_left(edges_hi, lo), n_hi):
            best = max(best, -(-row[j] // (edges_hi[j] - lo + 1)))
    return weights.load_peak * best


def trainer_load_bound(
    problem: Problem, builder: DomainBuilder, weights: Weights, times: CourseTimes
) -> int:
    """Sessions of required courses that only trainers with a limit can teach go into weeks
    (months) when one of them is free; the cheapest way to share them out, each session on
    its own, is a transport problem solved exactly as a min-cost flow."""
    if weights.trainer_load == 0:
        return 0
    grid, ppd = builder.grid, builder.grid.periods_per_day
    week = {t.id: t.max_sessions_per_week for t in problem.trainers}
    month = {t.id: t.max_sessions_per_month for t in problem.trainers}
    unlimited = {t for t in week if week[t] is None and month[t] is None}
    sessions: list[dict[str, set[int]]] = []  # per session: trainer -> days they may teach it
    for course in problem.courses:
        dom = builder.course_domains(course)
        if not course.required or unlimited.issuperset(dom.trainers):
            continue
        block = course.pattern == "block"
        for k in range(course.sessions if block else 1):
            starts = {s + k * ppd for s in times.starts[course.id]}
            free = {t: starts & trainer_starts(builder, dom, t, times.free) for t in dom.trainers}
            if any(free[t] for t in unlimited.intersection(dom.trainers)):
                continue  # someone without any limit can take it
            days = {t: {s // ppd for s in slots} for t, slots in free.items() if slots}
            sessions.extend([days] * (1 if block else course.sessions))
    total = 0
    for limit_of, bucket_of_day in ((week, grid.week_of_day), (month, grid.month_of_day)):
        limits = {t: limit for t, limit in limit_of.items() if limit is not None}
        # A course's sessions share one `days`: its buckets are worked out once.
        buckets: dict[int, set[tuple[str, int]]] = {}
        options = []
        for days in sessions:
            if days and all(t in limits for t in days):  # else someone without a limit can
                if id(days) not in buckets:
                    buckets[id(days)] = {
                        (t, bucket_of_day[d]) for t, ds in days.items() for d in ds
                    }
                options.append(buckets[id(days)])
        total += weights.trainer_load * least_overload(options, limits)
    return total


def least_overload(options: Sequence[set[tuple[str, int]]], limits: dict[str, int]) -> int:
    """Fewest sessions over the limits when each session goes to one of its (trainer, bucket)
    options and a bucket holds `limits[trainer]` sessions free of charge."""
    # A bucket that could never be over its limit takes its sessions for free, whatever the
    # others do: drop them until none is left, so that the flow sees only contested sessions.
    demand: dict[tuple[str, int], int] = defaultdict(int)
    for opts in options:
        for o in opts:
            demand[o] += 1
    live = list(range(len(options)))
    while True:
        kept = []
        for i in live:
            if any(demand[o] <= limits[o[0]] for o in options[i]):
                for o in options[i]:
                    demand[o] -= 1
            else:
                kept.append(i)
        if len(kept) == len(live):
            break
        live = kept
    if not live:
        return 0
    flow = min_cost_flow.SimpleMinCostFlow()
    source, sink = 0, 1
    node: dict[tuple[str, int], int] = {}
    for n, i in enumerate(live, start=2):
        flow.add_arc_with_capacity_and_unit_cost(source, n, 1, 0)
        for o in sorted(options[i]):
            if o not in node:
                node[o] = 2 + len(live) + len(node)
            flow.add_arc_with_capacity_and_unit_cost(n, node[o], 1, 0)
    for o, n in node.items():
        flow.add_arc_with_capacity_and_unit_cost(n, sink, limits[o[0]], 0)
        flow.add_arc_with_capacity_and_unit_cost(n, sink, len(live), 1)
    flow.set_node_supply(source, len(live))
    flow.set_node_supply(sink, -len(live))
    if flow.solve() != flow.OPTIMAL:
        return 0
    return int(flow.optimal_cost())


# ---------------------------------------------------------------------------------------------
# The time terms, group by group


@dataclass(frozen=True)
class CoursePart:
    """A course in a group: the whole course, or the part of a split one with its cohorts
    there. Only a primary part pays the course's own costs (soft blackouts, spread days)."""

    course: Course
    cohorts: tuple[str, ...]
    primary: bool


@dataclass
class Group:
    """Courses whose time terms (soft blackouts of time alone, spread days, compactness,
    density, courses left out) depend on each other's times and on no other course's."""

    parts: list[CoursePart] = field(default_factory=list)
    crowded: set[str] = field(default_factory=set)  # units whose density the group bounds

    @property
    def sessions(self) -> int:
        return sum(part.course.sessions for part in self.parts)


def crowded_units(problem: Problem, weights: Weights) -> set[str]:
    """Units that could have more cadres away than their cap (all their courses at once)."""
    if weights.density == 0:
        return set()
    away: dict[str, int] = defaultdict(int)
    for course in problem.courses:
        for q in course.cohorts:
            cohort = problem.cohort_by_id[q]
            away[cohort.unit] += cohort.size
    return {
        u.id
        for u in problem.units
        if u.away_cap is not None and away[u.id] > int(u.away_cap * u.headcount + 1e-9)
    }


class _Partition:
    """Union-find over string keys, with the sessions of each set."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.size: dict[str, int] = defaultdict(int)

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, keys: Sequence[str], sessions: int) -> None:
        root = self.find(keys[0])
        for key in keys[1:]:
            other = self.find(key)
            if other != root:
                self.parent[other] = root
                self.size[root] += self.size.pop(other, 0)
        self.size[root] += sessions


def time_groups(problem: Problem, weights: Weights) -> list[Group]:
    """Courses grouped so that no time term spans two groups: those sharing a cohort, or a unit
    that could be over its cap. A required course of several units whose groups would grow
    past `JOIN_MAX_SESSIONS` is split into a part per group instead (a relaxation: the parts
    may then meet at different times). Smallest groups first."""
    crowded = crowded_units(problem, weights)
    cohorts = problem.cohort_by_id

    def keys(course: Course) -> list[str]:
        out = [f"course:{course.id}"]
        for q in course.cohorts:
            out.append(f"cohort:{q}")
            if cohorts[q].unit in crowded:
                out.append(f"unit:{cohorts[q].unit}")
        return out

    parts = _Partition()
    for cohort in problem.cohorts:  # a crowded unit's cohorts share its group, split or not
        if cohort.unit in crowded:
            parts.join([f"cohort:{cohort.id}", f"unit:{cohort.unit}"], 0)
    shared = [c for c in problem.courses if c.required and len(problem.units_of(c)) > 1]
    shared_ids = {c.id for c in shared}
    for course in problem.courses:
        if course.id not in shared_ids:
            parts.join(keys(course), course.sessions)
    split: dict[str, dict[str, list[str]]] = {}  # course id -> group root -> its cohorts there
    for course in sorted(shared, key=lambda c: (c.sessions, c.id)):
        roots = {parts.find(k) for k in keys(course)}
        if sum(parts.size[r] for r in roots) + course.sessions <= JOIN_MAX_SESSIONS:
            parts.join(keys(course), course.sessions)
        else:
            split[course.id] = {}
    for course_id, by_root in split.items():
        for cohort_id in problem.course(course_id).cohorts:
            by_root.setdefault(parts.find(f"cohort:{cohort_id}"), []).append(cohort_id)
    groups: dict[str, Group] = defaultdict(Group)
    for course in problem.courses:
        if course.id in split:
            for n, (root, qs) in enumerate(split[course.id].items()):
                groups[root].parts.append(CoursePart(course, tuple(qs), primary=n == 0))
        else:
            root = parts.find(f"course:{course.id}")
            groups[root].parts.append(CoursePart(course, tuple(course.cohorts), primary=True))
    for unit_id in crowded:
        root = parts.find(f"unit:{unit_id}")
        if root in groups:
            groups[root].crowded.add(unit_id)
    return sorted(groups.values(), key=lambda g: (g.sessions, g.parts[0].course.id))


def time_terms_bound(
    problem: Problem,
    builder: DomainBuilder,
    weights: Weights,
    times: CourseTimes,
    time_limit: float,
) -> int:
    """Per group, the better of its counted bound and its relaxation's bound. Groups are
    relaxed smallest first (they give the most bound per second) while the budget lasts,
    each with an even share of what is left; most prove their optimum well within it."""
    groups = time_groups(problem, weights)
    density = density_bounds(problem, weights)
    total = 0
    left = time_limit
    for i, group in enumerate(groups):
        overhead = COST_PER_GROUP + COST_PER_SESSION * group.sessions
        relaxed = None
        if left >= overhead + MIN_SLICE:
            share = max(MIN_SLICE, left / (len(groups) - i) - overhead)
            relaxed, used = relaxed_time_bound(problem, builder, weights, times, group, share)
            left -= used + overhead
        total += max(counted_time_bound(builder, weights, times, density, group), relaxed or 0)
    return total


# The relaxation of one group


def relaxed_time_bound(
    problem: Problem,
    builder: DomainBuilder,
    weights: Weights,
    times: CourseTimes,
    group: Group,
    time_limit: float,
) -> tuple[int | None, float]:
    """CP-SAT's bound on the group's relaxation (`relaxed_model`) and the deterministic time
    it took; None when the relaxation has no schedule (nor then has the plan)."""
    model = relaxed_model(problem, builder, weights, times, group).model
    solver = cp.CpSolver()
    solver.parameters.num_workers = 1
    # Linearizing the Boolean constraints too makes the LP tight enough to prove nearly every
    # group optimal at once (measured on S: all groups in 0.8 s; by default, hardly any).
    solver.parameters.linearization_level = 2
    # Probing in presolve buys these models nothing (measured: same bounds on S and M, in
    # 10-20% less time).
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.max_deterministic_time = time_limit
    solver.parameters.max_time_in_seconds = 10 * time_limit + 1  # a guard, never the limit
    status = solver.solve(model)
    used = solver.deterministic_time
    if status == cp.OPTIMAL:
        return round(solver.objective_value), used
    if status in (cp.FEASIBLE, cp.UNKNOWN):
        return max(0, math.ceil(solver.best_objective_bound - 1e-6)), used
    return None, used


@dataclass
class RelaxedModel:
    model: cp.CpModel
    terms: dict[str, list[cp.LinearExprT]]  # the objective's parts by soft term


def relaxed_model(
    problem: Problem,
    builder: DomainBuilder,
    weights: Weights,
    times: CourseTimes,
    group: Group,
) -> RelaxedModel:
    """The group's time terms with sites and trainers dropped: courses start where time alone
    lets them (`time_domain`) and a cohort attends one session at a time.

    Sessions are counted per day (the j-th session of a course on a day is a literal), which
    keeps the LP tight: a day with a single short session of a cohort pays for it, and a
    course meeting twice a day uses one day for two sessions. Courses that load a crowded unit
    also get a literal per start slot, tied to the day counts, so the unit's cadres away are
    counted at each period. Priced at any schedule of the plan, every term is at most what the
    schedule pays (on the city plans, exactly: at two periods a day a cohort's day with two
    short sessions is compact, at more it may not be).
    """
    m = cp.CpModel()
    ppd = builder.grid.periods_per_day
    terms: dict[str, list[cp.LinearExprT]] = defaultdict(list)
    by_day: dict[str, dict[int, list[tuple[int, cp.IntVar]]]] = defaultdict(
        lambda: defaultdict(list)
    )  # cohort -> day -> (length, a session of that length that day)
    by_slot: dict[str, dict[int, list[cp.IntVar]]] = defaultdict(lambda: defaultdict(list))
    away: dict[str, dict[int, list[tuple[int, cp.IntVar]]]] = defaultdict(
        lambda: defaultdict(list)
    )  # crowded unit -> slot -> (cadres, a session holding them then)
    for part in group.parts:
        course = part.course
        present = m.new_bool_var(f"present[{course.id}]")
        if course.required:
            m.add(present == 1)
        else:
            terms["unscheduled"].append(weights.unscheduled * course.priority * (1 - present))
        if not times.starts[course.id]:
            m.add(present == 0)
            continue
        demand: dict[str, int] = defaultdict(int)
        for q in part.cohorts:
            cohort = problem.cohort_by_id[q]
            if cohort.unit in group.crowded:
                demand[cohort.unit] += cohort.size
        held = add_course_sessions(m, builder, weights, times, part, present, bool(demand))
        for term, costs in held.costs.items():
            terms[term].extend(costs)
        for day, lits in held.days.items():
            for q in part.cohorts:
                by_day[q][day].extend((course.length, lit) for lit in lits)
        for start, lit in held.starts:
            for t in range(start, start + course.length):
                for q in part.cohorts:
                    by_slot[q][t].append(lit)
                for unit_id, size in demand.items():
                    away[unit_id][t].append((size, lit))
    for days in by_day.values():
        for that_day in days.values():
            if sum(length for length, _ in that_day) > ppd:
                m.add(sum(length * lit for length, lit in that_day) <= ppd)
    for slots in by_slot.values():
        for lits in slots.values():
            if len(lits) > 1:
                m.add_at_most_one(lits)
    if weights.compactness:
        for q, days in sorted(by_day.items()):
            for day, that_day in sorted(days.items()):
                short = [lit for length, lit in that_day if length < ppd]
                if len(short) == 1:
                    terms["compactness"].append(weights.compactness * short[0])
                elif short:
                    # One short session alone in the day has nothing beside it; two or more
                    # could sit side by side.
                    busy = m.new_bool_var(f"busy[{q},{day}]")
                    for lit in short:
                        m.add_implication(lit, busy)
                    alone = m.new_bool_var(f"alone[{q},{day}]")
                    m.add(alone >= 2 * busy - sum(short))
                    terms["compactness"].append(weights.compactness * alone)
    for unit_id, loads in sorted(away.items()):
        unit = problem.unit_by_id[unit_id]
        assert unit.away_cap is not None
        cap = int(unit.away_cap * unit.headcount + 1e-9)
        peaks = [load for load in loads.values() if sum(size for size, _ in load) > cap]
        if not peaks:
            continue
        top = max(sum(size for size, _ in load) for load in peaks)
        over = m.new_int_var(0, top - cap, f"over[{unit_id}]")
        for load in peaks:
            m.add(cap + over >= sum(size * lit for size, lit in load))
        terms["density"].append(weights.density * over)
    m.minimize(sum(e for costs in terms.values() for e in costs))
    return RelaxedModel(m, dict(terms))


@dataclass
class CourseSessions:
    """A course in the relaxation: its session literals by day, its (start slot, literal)
    pairs when it has them, and its own costs by term."""

    days: dict[int, list[cp.IntVar]] = field(default_factory=lambda: defaultdict(list))
    starts: list[tuple[int, cp.IntVar]] = field(default_factory=list)
    costs: dict[str, list[cp.LinearExprT]] = field(default_factory=lambda: defaultdict(list))


def add_course_sessions(
    m: cp.CpModel,
    builder: DomainBuilder,
    weights: Weights,
    times: CourseTimes,
    part: CoursePart,
    present: cp.IntVar,
    by_slot: bool,
) -> CourseSessions:
    """A block course: a literal per block start, a session on each of its days. A spread
    course: the j-th of its sessions on a day (as many as the day's starts fit), paying at
    least the j-th cheapest start there, and with `by_slot` a literal per start as well.
    Only the primary part of a course pays its own costs: soft blackouts, the least for its
    site and trainer (`start_costs`) and spread days."""
    ppd = builder.grid.periods_per_day
    course, starts = part.course, times.starts[part.course.id]
    cost_at = times.costs[course.id] if part.primary else {}
    out = CourseSessions()
    if course.pattern == "block":
        chosen = []
        for s in sorted(starts):
            x = m.new_bool_var(f"block[{course.id},{s}]")
            chosen.append(x)
            if cost_at.get(s):
                out.costs["start"].append(cost_at[s] * x)
            for k in range(course.sessions):
                out.days[s // ppd + k].append(x)
                out.starts.append((s + k * ppd, x))
        m.add(sum(chosen) == present)
        return out
    day_starts: dict[int, list[int]] = defaultdict(list)
    for s in sorted(starts):
        day_starts[s // ppd].append(s)
    first = []
    for day, options in sorted(day_starts.items()):
        fit, end = 0, -1
        for s in options:  # the most sessions the day's starts hold without overlap
            if s >= end:
                fit, end = fit + 1, s + course.length
        lits: list[cp.IntVar] = []
        for j in range(min(fit, course.sessions)):
            z = m.new_bool_var(f"day[{course.id},{day},{j}]")
            if lits:
                m.add_implication(z, lits[-1])
            lits.append(z)
        first.append(lits[0])
        out.days[day] = lits
        if by_slot:
            at = {s: m.new_bool_var(f"at[{course.id},{s}]") for s in options}
            m.add(sum(at.values()) == sum(lits))
            out.starts.extend(at.items())
            out.costs["start"].extend(cost_at[s] * x for s, x in at.items() if cost_at.get(s))
        else:
            costs = sorted(cost_at.get(s, 0) for s in options)
            out.costs["start"].extend(c * z for c, z in zip(costs, lits, strict=False) if c)
    m.add(sum(z for lits in out.days.values() for z in lits) == course.sessions * present)
    if course.length > 1 and out.starts:  # its own sessions one at a time
        covering: dict[int, list[cp.IntVar]] = defaultdict(list)
        for s, x in out.starts:
            for t in range(s, s + course.length):
                covering[t].append(x)
        for cover in covering.values():
            if len(cover) > 1:
                m.add_at_most_one(cover)
    if part.primary and weights.min_days and course.wanted_days >= 2:
        short = m.new_int_var(0, course.wanted_days, f"short[{course.id}]")
        m.add(short >= course.wanted_days * present - sum(first))
        out.costs["min_days"].append(weights.min_days * short)
    return out


# Counted bounds of one group, for a group whose relaxation was not solved (or did worse)


def counted_time_bound(
    builder: DomainBuilder,
    weights: Weights,
    times: CourseTimes,
    density: dict[str, int],
    group: Group,
) -> int:
    total = 0
    for part in group.parts:
        if part.primary and part.course.required:
            total += start_bound(builder, times, part.course)
            total += min_days_bound(builder, weights, part.course, times.starts[part.course.id])
    total += sum(density.get(u, 0) for u in group.crowded)
    total += compactness_bound(builder, weights, group.parts)
    return total


def start_bound(builder: DomainBuilder, times: CourseTimes, course: Course) -> int:
    """Each session pays at least what its cheapest possible start costs (a block course: its
    cheapest block start)."""
    starts = times.starts[course.id]
    if not starts:
        return 0
    cost_at = times.costs[course.id]
    least = min(cost_at.get(s, 0) for s in starts)
    return least if course.pattern == "block" else course.sessions * least


def min_days_bound(
    builder: DomainBuilder, weights: Weights, course: Course, starts: frozenset[int]
) -> int:
    """A spread course whose starts span fewer working days than it wants pays the difference."""
    if course.pattern != "spread" or not starts:
        return 0
    days = {s // builder.grid.periods_per_day for s in starts}
    return weights.min_days * max(0, course.wanted_days - len(days))


def density_bounds(problem: Problem, weights: Weights) -> dict[str, int]:
    """Per capped unit: its peak is at least what its biggest required course takes away."""
    biggest: dict[str, int] = defaultdict(int)
    for course in problem.courses:
        if not course.required:
            continue
        away: dict[str, int] = defaultdict(int)
        for q in course.cohorts:
            cohort = problem.cohort_by_id[q]
            away[cohort.unit] += cohort.size
        for unit_id, size in away.items():
            biggest[unit_id] = max(biggest[unit_id], size)
    return {
        u.id: weights.density * max(0, biggest[u.id] - int(u.away_cap * u.headcount + 1e-9))
        for u in problem.units
        if u.away_cap is not None
    }


def compactness_bound(builder: DomainBuilder, weights: Weights, parts: Iterable[CoursePart]) -> int:
    """A cohort with a single session shorter than a day has nothing to sit beside."""
    ppd = builder.grid.periods_per_day
    short: dict[str, int] = defaultdict(int)
    for part in parts:
        if part.course.length < ppd:
            for q in part.cohorts:
                short[q] += part.course.sessions if part.course.required else 2
    return weights.compactness * sum(1 for n in short.values() if n == 1)
