"""Large-neighbourhood search over the full model: fix every course outside a neighbourhood to
its current placement, let CP-SAT re-place the neighbourhood, keep the result if it is better.

Each step builds a model of the neighbourhood alone: fixed courses become constants or, when
they share no cohort with a free course, a backdrop of busy slots and load profiles
(`solver.model.Backdrop`), so a step costs what the neighbourhood holds, not the whole plan.
Neighbourhoods follow how plans are shaped: a stretch of weeks, one trainer, site, unit or
cohort, the courses that pay the most, or random.
"""

from __future__ import annotations

import bisect
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ortools.sat.python import cp_model as cp

from solver.bounds import StartPrices
from solver.domains import CourseDomains, DomainBuilder, site_charge
from solver.grid import TimeGrid
from solver.model import (
    BuildOptions,
    CourseVars,
    ModelVars,
    SessionVars,
    WholeBackdrop,
    build_model,
)
from solver.params import SolveParams
from solver.problem import Placement, Problem, Weights
from solver.solution import RepairPolicy

# Kinds of neighbourhood: courses near in time, sharing a resource, the costliest and what
# they touch, any, or every session in a stretch of days. Each is drawn in proportion to the
# share of the cost its steps have saved lately (smoothed at REACTION per step, starting at
# FIRST_SCORE), and never less often than FLOOR times the best kind, so each keeps being tried:
# which kind pays depends on the plan (on ITC comp07 a "days" step saved 6, the others 25-47;
# on S seed 1 "days" was among the best).
KINDS = ("window", "resource", "costly", "random", "days", "blocked", "peak")
REACTION = 0.2
FIRST_SCORE = 0.02
FLOOR = 0.15
# A "costly" step grows its neighbourhood around a few seeds drawn from the COSTLY_POOL courses
# paying most, in proportion to what they pay; a seed whose step saved nothing rests for
# REST_STEPS steps. The costliest courses often pay what their window forces on them (on M seed
# 1 the top payer holds 12 sessions inside its unit's construction season, whatever the rest
# does), and taking the top few every time retried the same seeds step after step.
COSTLY_POOL = 200
REST_STEPS = 50
# A "blocked" step frees a costly course with the courses holding its cohorts, a site and a
# trainer at times where it would pay less than it does now, the fewest in the way first,
# looking at this many of those times at most. On S seed 2 at 60 s a course paid 70 in its
# unit's construction season because a site's two rooms were taken by long blocks that could
# go elsewhere; of the courses around it the others chose, those two rooms' were the last.
BLOCKED_STARTS = 64
# A "peak" step frees a few courses that between them hold a session at every one of the plan's
# busiest slots (fewest first), with courses around them: the load peak is paid at its highest
# slot, so a step lowers it only by moving a session off each of them at once; on S seed 3 the
# peak (8 sessions at 21 slots) paid 80 where the bound allows 50, and no other kind frees
# those courses together. Skipped when that takes more than PEAK_COVER times the step's size.
PEAK_COVER = 2

# A free course with more site (trainer) options than this keeps, for one step, the ones it uses
# now and others up to this many: half the cheapest for its trainees, half at random. A
# timetabling week offers every lecture every room; most of a step's literals and of its
# room no-overlaps were rooms no better than the one in use.
SITE_CHOICES = 6
TRAINER_CHOICES = 6
# Share of a step's time its hint's completion may take (it takes far less when it succeeds).
HINT_LIMIT = 0.3
# One-worker (reproducible) steps are limited by CP-SAT's deterministic clock, which on
# neighbourhood models runs 4-6 times slower than the wall (S seed 1: 1.0 deterministic s took
# 4-6 s; ITC-2007 comp07 far more, its room no-overlaps hardly counted). A one-worker step gets
# this many deterministic seconds per second of its limit and the run is charged back at that
# rate, so that such a solve takes about its time limit and its wall-clock guards (this many
# times the limit) never decide where it stops: they did, and the same seed gave two schedules.
ONE_WORKER_RATE = 0.25
ONE_WORKER_GUARD = 10


@dataclass
class StepResult:
    placements: list[Placement] | None
    status: str
    deterministic_time: float
    model_objective: int | None = None
    start_objective: int | None = None  # where the step started, in its model's terms
    search_s: float = 0.0  # wall seconds CP-SAT searched (the rest of the step is set-up)

    @property
    def saving(self) -> int:
        """What the step's model says it saved (0 when unknown)."""
        if self.start_objective is None or self.model_objective is None:
            return 0
        return max(0, self.start_objective - self.model_objective)

    @property
    def better(self) -> bool:
        """The schedule found costs less than the one the step started from (True when
        unknown: the checker decides)."""
        if self.start_objective is None or self.model_objective is None:
            return self.placements is not None
        return self.placements is not None and self.model_objective < self.start_objective


@dataclass
class Neighbourhoods:
    """Which courses share what, to pick neighbourhoods that can actually trade places."""

    problem: Problem
    by_resource: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    resources: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @staticmethod
    def of(problem: Problem, domains: dict[str, CourseDomains]) -> Neighbourhoods:
        n = Neighbourhoods(problem)
        for course in problem.courses:
            keys = {f"cohort:{q}" for q in course.cohorts}
            keys |= {f"unit:{u}" for u in problem.units_of(course)}
            dom = domains[course.id]
            keys |= {f"site:{s}" for s in dom.sites}
            keys |= {f"trainer:{t}" for t in dom.trainers}
            n.resources[course.id] = keys
            for key in keys:
                n.by_resource[key].add(course.id)
        return n

    def related(self, course_id: str, kinds: tuple[str, ...] | None = None) -> set[str]:
        """Courses sharing a resource with this one (of these kinds: cohort, unit, site,
        trainer; any when not given)."""
        out: set[str] = set()
        for key in self.resources[course_id]:
            if kinds is None or key.split(":")[0] in kinds:
                out |= self.by_resource[key]
        return out


def nearest(slots: Sequence[tuple[int, str]], centre: int, count: int) -> tuple[int, int]:
    """The first and last slot of the `count` sorted (slot, course) pairs nearest `centre`
    (ties: the earlier pair)."""
    right = bisect.bisect_left(slots, (centre, ""))
    left = right - 1
    lo = hi = None
    for _ in range(max(1, min(count, len(slots)))):
        take_left = right >= len(slots) or (
            left >= 0
            and (centre - slots[left][0], slots[left]) < (slots[right][0] - centre, slots[right])
        )
        if take_left:
            slot, left = slots[left][0], left - 1
        else:
            slot, right = slots[right][0], right + 1
        lo = slot if lo is None else min(lo, slot)
        hi = slot if hi is None else max(hi, slot)
    assert lo is not None and hi is not None
    return lo, hi


def span_of(placements: Sequence[Placement], grid: TimeGrid) -> dict[str, tuple[int, int]]:
    """First and last slot of each placed course."""
    spans: dict[str, tuple[int, int]] = {}
    for pl in placements:
        day = grid.day_index(pl.day)
        if day is None:
            continue
        s = grid.slot(day, pl.period)
        lo, hi = spans.get(pl.course, (s, s))
        spans[pl.course] = (min(lo, s), max(hi, s))
    return spans


def fitting_slot(sv: SessionVars, pl: Placement, grid: TimeGrid) -> int | None:
    """The start slot of `pl` if this session's variables can take it there (its time, site
    and trainer among their options), else None."""
    day = grid.day_index(pl.day)
    if day is None or pl.site not in sv.sites or pl.trainer not in sv.trainers:
        return None
    slot = grid.slot(day, pl.period)
    return slot if slot in sv.domain else None


def fixed_values(cv: CourseVars, pls: Sequence[Placement], mv: ModelVars) -> dict[int, int] | None:
    """Variable index -> value that pins a course to its placements (None if they don't fit)."""
    grid = mv.grid
    values: dict[int, int] = {cv.present.index: 1}
    ordered = sorted(pls, key=lambda p: p.session)
    if len(ordered) != len(cv.sessions):
        return None
    for sv, pl in zip(cv.sessions, ordered, strict=True):
        slot = fitting_slot(sv, pl, grid)
        if slot is None:
            return None
        if cv.block_start is not None:
            if sv.index == 0:
                values[cv.block_start.index] = slot
        else:
            assert isinstance(sv.start, cp.IntVar)
            values[sv.start.index] = slot
        for site_id, lit in sv.sites.items():
            values[lit.index] = int(site_id == pl.site)
        for trainer_id, lit in sv.trainers.items():
            values[lit.index] = int(trainer_id == pl.trainer)
    return values


def set_hints(
    mv: ModelVars, model: cp.CpModel, by_course: Mapping[str, Sequence[Placement]]
) -> None:
    """Start `model` (the built one or a clone) from these courses' placements."""
    model.clear_hints()  # type: ignore[no-untyped-call]
    hint = model.proto.solution_hint
    for course_id, pls in sorted(by_course.items()):
        values = fixed_values(mv.courses[course_id], pls, mv)
        for index, value in (values or {}).items():
            hint.vars.append(index)
            hint.values.append(value)


def keep_outside(
    mv: ModelVars, cv: CourseVars, pls: Sequence[Placement], window: tuple[int, int]
) -> None:
    """Fix the sessions of a spread course that lie outside `window` where they are. Sessions
    are ordered in time, so the free ones stay between their fixed neighbours."""
    if cv.course.pattern == "block" or len(pls) != len(cv.sessions):
        return
    ordered = sorted(pls, key=lambda p: p.session)
    for sv, pl in zip(cv.sessions, ordered, strict=True):
        slot = fitting_slot(sv, pl, mv.grid)
        if slot is None or window[0] <= slot <= window[1]:
            continue  # in the stretch, or cannot stay (the rules changed): free
        mv.model.add(sv.start == slot)
        mv.model.add(sv.sites[pl.site] == 1)
        mv.model.add(sv.trainers[pl.trainer] == 1)


def complete_hint(model: cp.CpModel, time_limit: float, wall_limit: float) -> int | None:
    """Extend `model`'s hint (placements only) to every variable: the costs, counts and
    indicators that follow from the placements. Returns the hint's objective in this model
    (None if not done, or not proven least): a step's result is better than where it started
    exactly when its objective is lower, since the fixed courses add the same constant to both.

    CP-SAT completes a partial hint by search, and its first completion is far from the best
    values of the cost variables (an S repair neighbourhood: 4,324 where the placements cost
    799), so a one-second step spent its time climbing back to where it started. Solving a
    copy of the model with the hinted variables fixed finds those values in a fraction of that.
    The copy fixes them by constraints, not with `fix_variables_to_their_hinted_value`, whose
    9.15 code path has crashed the process (or-tools#5025).
    """
    hinted = model.proto.solution_hint
    copy = model.clone()
    for index, value in zip(hinted.vars, hinted.values, strict=True):
        copy.add(copy.get_int_var_from_proto_index(index) == value)
    solver = cp.CpSolver()
    p = solver.parameters
    p.num_workers = 1
    p.max_deterministic_time = time_limit
    p.max_time_in_seconds = wall_limit
    status = solver.solve(copy)
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        return None
    values = solver.response_proto.solution
    model.clear_hints()  # type: ignore[no-untyped-call]
    hint = model.proto.solution_hint
    hint.vars.extend(range(len(values)))
    hint.values.extend(values)
    # Only a proven completion is the placements' cost: a merely feasible one may cost more,
    # and a step's saving measured from it would be more than the checker's.
    return round(solver.objective_value) if status == cp.OPTIMAL else None


def group(placements: Sequence[Placement]) -> dict[str, list[Placement]]:
    by_course: dict[str, list[Placement]] = defaultdict(list)
    for pl in placements:
        by_course[pl.course].append(pl)
    return by_course


class Search:
    """Runs neighbourhood steps on one built model."""

    def __init__(
        self,
        problem: Problem,
        builder: DomainBuilder,
        weights: Weights,
        policy: RepairPolicy,
        params: SolveParams,
        extract: Callable[[ModelVars, cp.CpSolver], list[Placement]],
    ) -> None:
        self.problem, self.params, self.extract = problem, params, extract
        self.grid, self.builder = builder.grid, builder
        self.weights, self.policy = weights, policy
        self.domains = {c.id: builder.course_domains(c) for c in problem.courses}
        self.neighbourhoods = Neighbourhoods.of(problem, self.domains)
        self.rng = random.Random(params.seed)
        # The kinds this plan can use: a peak step where the load peak costs nothing (a
        # timetabling week) would only be a random one drawn under another name.
        kinds = [k for k in KINDS if k != "peak" or weights.load_peak > 0]
        self.scores = dict.fromkeys(kinds, FIRST_SCORE)
        self.picks = 0  # neighbourhoods picked so far
        # The best schedule by course and folded into a backdrop, for the list it came from;
        # and the same for the last step's result, which is usually the next best.
        self._whole: tuple[Sequence[Placement], WholeBackdrop] | None = None
        self._next: tuple[Sequence[Placement], WholeBackdrop] | None = None
        # Spans and sorted session slots of the schedule they were worked out for.
        self._spans: tuple[Sequence[Placement], dict[str, tuple[int, int]]] | None = None
        self._slots: tuple[Sequence[Placement], list[tuple[int, str]]] | None = None
        self.seeds: list[str] = []  # the last costly step's seeds
        self._prices: StartPrices | None = None
        self._start_prices: dict[str, dict[int, int]] = {}  # course -> start -> least it pays
        # Who holds each resource ("site:s", "trainer:t", "cohort:q") at each slot, asked
        # resource by resource, for the schedule it was worked out for.
        self._occupants: tuple[Sequence[Placement], dict[str, dict[int, str]]] | None = None
        self.resting: dict[str, int] = {}  # seed -> picks count until which it rests
        # Deterministic seconds per second of a step's limit (see ONE_WORKER_RATE).
        self.rate = ONE_WORKER_RATE if params.workers == 1 else 1.0
        courses = problem.courses
        self.mean_sessions = sum(c.sessions for c in courses) / max(1, len(courses))
        self.longest = max((c.length for c in courses), default=1)  # periods of a session

    def step(
        self,
        current: Sequence[Placement],
        free: set[str],
        time_limit: float,
        first_solution: bool = False,
        window: tuple[int, int] | None = None,
        narrow: bool = False,
    ) -> StepResult:
        """Re-solve the courses in `free` with every other course fixed where it is now.

        `first_solution`: stop at the first schedule that places at least one more of the
        required courses not placed yet (completion, where any progress counts).
        `window` (first and last slot): of the free spread courses, only the sessions now in
        the window move; the others stay where they are.
        `narrow`: the free courses choose among a few sites and trainers (`narrowed`).
        """
        started = time.monotonic()
        whole = self.whole(current)
        by_course = whole.placed
        fixed: dict[str, Sequence[Placement]] = {}
        relaxed: set[str] = set()
        for course in self.problem.courses:
            pls = by_course.get(course.id, [])
            if course.required and not pls:
                relaxed.add(course.id)  # not placed yet: place it if this step can
            if course.id not in free:
                fixed[course.id] = pls
        domains = self.domains  # copied only when this step narrows some courses' options
        if narrow:
            domains = domains | {c: self.narrowed(c, by_course.get(c, [])) for c in sorted(free)}
        options = BuildOptions(
            fixed=fixed,
            domains=domains,
            relaxed=frozenset(relaxed),
            builder=self.builder,
            whole=whole,
        )
        sub = build_model(self.problem, self.grid, self.weights, self.policy, options)
        set_hints(sub, sub.model, {c: pls for c, pls in by_course.items() if c in free})
        if window is not None:
            for course_id in sorted(free):
                if course_id in sub.courses and by_course.get(course_id):
                    keep_outside(sub, sub.courses[course_id], by_course[course_id], window)
        pending = [sub.courses[c].present for c in sorted(relaxed & free) if c in sub.courses]
        start_objective = None
        if first_solution and pending:
            sub.model.add(sum(pending) >= 1)
        else:
            guard = ONE_WORKER_GUARD if self.params.workers == 1 else 4
            share = HINT_LIMIT * time_limit
            start_objective = complete_hint(sub.model, share * self.rate, share * guard)
        solver = cp.CpSolver()
        p = solver.parameters
        p.num_workers = self.params.workers
        p.random_seed = self.rng.randrange(1 << 30)
        p.max_deterministic_time = time_limit * self.rate
        if self.params.workers == 1:
            p.max_time_in_seconds = ONE_WORKER_GUARD * time_limit  # the work limit decides
        else:
            # Building the model and completing its hint count against the step's time.
            p.max_time_in_seconds = max(0.05, time_limit - (time.monotonic() - started))
        p.stop_after_first_solution = first_solution
        # No presolve: most of the plan is fixed and the neighbourhood model is already small,
        # so presolve only costs time. Even probing at level 1 spent 0.9 s of a 1 s step on
        # ITC comp04 (0.06 deterministic s: no search left), and with presolve off S reached
        # 1,880 in 60 s where it had reached 2,786. Presolve is also where OR-Tools 9.15
        # wrongly reported feasible models infeasible (or-tools#5274; seen here with
        # probing level 0).
        p.cp_model_presolve = False
        status = solver.solve(sub.model)
        name = solver.status_name(status)
        narrowed = any(domains[c] is not self.domains[c] for c in free)
        if status == cp.OPTIMAL and not fixed and window is None and not narrowed:
            name = "OPTIMAL_ALL"  # nothing was fixed or left out: the whole plan is optimal
        if status in (cp.OPTIMAL, cp.FEASIBLE):
            folded = [pl for pl in current if pl.course not in sub.courses]
            made = self.extract(sub, solver)
            out = made + folded
            now: dict[str, Sequence[Placement]] = {c: [] for c in sub.courses}
            now.update(group(made))
            self._next = (out, whole.moved(self.problem, self.grid, now))
            return StepResult(
                out,
                name,
                solver.deterministic_time,
                round(solver.objective_value),
                start_objective,
                solver.wall_time,
            )
        return StepResult(None, name, solver.deterministic_time, search_s=solver.wall_time)

    def narrowed(self, course_id: str, pls: Sequence[Placement]) -> CourseDomains:
        """The course's options for one step: the sites and trainers it uses now, and a few
        others (`SITE_CHOICES`, `TRAINER_CHOICES`)."""
        dom = self.domains[course_id]
        sites, trainers = dom.sites, dom.trainers
        if len(sites) > SITE_CHOICES:

            def cost(site_id: str) -> int:
                return self.site_price(course_id, site_id)

            keep = self.keep(sorted(sites), {pl.site for pl in pls}, SITE_CHOICES, cost)
            sites = {k: v for k, v in sites.items() if k in keep}
        if len(trainers) > TRAINER_CHOICES:
            keep = self.keep(sorted(trainers), {pl.trainer for pl in pls}, TRAINER_CHOICES)
            trainers = {k: v for k, v in trainers.items() if k in keep}
        if sites is dom.sites and trainers is dom.trainers:
            return dom
        return replace(dom, sites=sites, trainers=trainers)

    def keep(
        self,
        options: list[str],
        used: set[str],
        most: int,
        cost: Callable[[str], int] | None = None,
    ) -> set[str]:
        """`used` and others up to `most`: half the cheapest by `cost`, the rest at random."""
        chosen = set(used) & set(options)
        others = [o for o in options if o not in chosen]
        self.rng.shuffle(others)
        if cost is not None:
            cheapest = sorted(others, key=cost)[: max(0, most - len(chosen)) // 2]
            chosen.update(cheapest)
            others = [o for o in others if o not in chosen]
        chosen.update(others[: max(0, most - len(chosen))])
        return chosen

    # Neighbourhood choices -------------------------------------------------------------

    def around(self, courses: Sequence[str], current: Sequence[Placement], size: int) -> set[str]:
        """The given courses plus related ones whose placements overlap their windows, those
        sharing a cohort, unit or trainer first (sites are shared by most courses: a room
        is easily changed, a cohort's or a trainer's time is not); when those run out, other
        courses in those windows, then any (a plan whose courses all compete, like a
        university week, needs neighbourhoods wider than the related ones)."""
        spans = self.spans(current)
        chosen = set(courses)
        close: list[str] = []
        related: list[str] = []
        overlapping: list[str] = []
        ppd = self.grid.periods_per_day
        windows = []
        for course_id in courses:
            dom = self.domains[course_id]
            starts = dom.starts() or dom.base
            lo, hi = min(starts, default=0), max(starts, default=0)
            if dom.course.pattern == "block":
                hi += (dom.course.sessions - 1) * ppd
            windows.append((lo, hi))
            near = self.neighbourhoods.related(course_id, ("cohort", "unit", "trainer"))
            for other in sorted(self.neighbourhoods.related(course_id) - chosen):
                span = spans.get(other)
                if span is None or (span[1] >= lo and span[0] <= hi):
                    (close if other in near else related).append(other)
        if len(chosen) + len(set(close + related)) < size:
            for other in sorted(self.domains):
                span = spans.get(other)
                if span is not None and any(span[1] >= lo and span[0] <= hi for lo, hi in windows):
                    overlapping.append(other)
        for pool in (close, related, overlapping, sorted(self.domains)):
            if len(chosen) >= size:
                break
            pool = [c for c in dict.fromkeys(pool) if c not in chosen]
            self.rng.shuffle(pool)
            chosen.update(pool[: size - len(chosen)])
        return chosen

    def stretch(
        self, current: Sequence[Placement], sessions: int
    ) -> tuple[set[str], tuple[int, int]] | None:
        """Whole days around a random session, holding about `sessions` sessions, and the
        courses with a session in them (blocks only when wholly inside)."""
        ppd = self.grid.periods_per_day
        slots = self.slots(current)
        if not slots:
            return None
        centre = self.rng.choice(slots)[0]
        near = nearest(slots, centre, sessions)
        lo, hi = near[0] // ppd * ppd, near[1] // ppd * ppd + ppd - 1
        first, last = bisect.bisect_left(slots, (lo, "")), bisect.bisect_left(slots, (hi + 1, ""))
        inside = {course_id for _, course_id in slots[first:last]}
        spans = self.spans(current)
        blocks = {
            c
            for c in inside
            if self.domains[c].course.pattern == "block"
            and not lo <= spans[c][0] <= spans[c][1] <= hi
        }
        return inside - blocks, (lo, hi)

    def at_peak(self, current: Sequence[Placement]) -> list[str]:
        """Few courses that between them hold a session at every slot where the most run at
        once: greedily, the course at most of those left first (ties at random). The load
        is the schedule's backdrop's, kept with it; only sessions at those slots are looked
        at."""
        load = self.whole(current).backdrop.load
        peak = max(load.values(), default=0)
        if peak <= 0:
            return []
        left = {t for t, n in load.items() if n == peak}
        slots = self.slots(current)
        held: dict[str, set[int]] = defaultdict(set)
        for t in left:  # sessions starting at most `longest - 1` slots before t
            first = bisect.bisect_left(slots, (t - self.longest + 1, ""))
            for start, course_id in slots[first : bisect.bisect_left(slots, (t + 1, ""))]:
                if start + self.domains[course_id].course.length > t:
                    held[course_id].add(t)
        candidates = sorted(held)
        self.rng.shuffle(candidates)
        cover: list[str] = []
        while left:
            best = max(candidates, key=lambda c: len(held[c] & left))
            cover.append(best)
            left -= held[best]
        return cover

    def spans(self, current: Sequence[Placement]) -> dict[str, tuple[int, int]]:
        """`span_of` the schedule, once per schedule."""
        if self._spans is None or self._spans[0] is not current:
            self._spans = (current, span_of(current, self.grid))
        return self._spans[1]

    def slots(self, current: Sequence[Placement]) -> list[tuple[int, str]]:
        """(start slot, course) of every session at a working time, in order, once per
        schedule: a national plan has 70,000 of them and a step picks a few hundred."""
        if self._slots is None or self._slots[0] is not current:
            grid, found = self.grid, []
            for pl in current:
                day = grid.day_index(pl.day)
                if day is not None:
                    found.append((grid.slot(day, pl.period), pl.course))
            self._slots = (current, sorted(found))
        return self._slots[1]

    def blocked(self, seeds: Sequence[str], current: Sequence[Placement], size: int) -> list[str]:
        """The seeds and the courses in their way: for each seed, at starts where it would pay
        less than it does now, those holding its cohorts there and the site and trainer least
        in the way, fewest first, up to half of `size` in all (the rest of the step is room
        for them to go elsewhere)."""
        chosen = dict.fromkeys(seeds)
        for seed in seeds:
            found = []
            for start in self.cheaper_starts(seed, current):
                blocking = self.blocking(seed, start, current)
                if blocking is not None:
                    found.append((len(blocking), self.rng.random(), blocking))
            for *_, blocking in sorted(found, key=lambda f: f[:2]):
                if len(chosen) + len(blocking - chosen.keys()) > max(size // 2, len(seeds) + 1):
                    break
                chosen.update(dict.fromkeys(sorted(blocking)))
        return list(chosen)

    def cheaper_starts(self, course_id: str, current: Sequence[Placement]) -> list[int]:
        """Up to BLOCKED_STARTS starts of the course where it would pay less than at its
        dearest start now by `StartPrices` (soft blackouts, its site's and trainer's), or,
        when it pays nothing there now, where it would pay nothing either (what it pays is
        then compactness, density or the like, which depend on the other courses); any of
        its starts when it is not placed."""
        dom = self.domains[course_id]
        prices = self.start_prices(course_id)
        now = self.starts_of(course_id, current)
        dearest = max((prices.get(s, 0) for s in now), default=0)
        cheaper = [
            s
            for s in sorted(dom.starts())
            if not now  # not placed: any start is better
            or (s not in now and (prices.get(s, 0) < dearest or prices.get(s, 0) == dearest == 0))
        ]
        self.rng.shuffle(cheaper)
        return cheaper[:BLOCKED_STARTS]

    def starts_of(self, course_id: str, current: Sequence[Placement]) -> set[int]:
        """The course's starts now: its first session's for a block, each session's else."""
        slots = set()
        for pl in self.whole(current).placed.get(course_id, ()):
            day = self.grid.day_index(pl.day)
            if day is not None:
                slots.add(self.grid.slot(day, pl.period))
        if slots and self.domains[course_id].course.pattern == "block":
            return {min(slots)}
        return slots

    def start_prices(self, course_id: str) -> dict[int, int]:
        """`StartPrices` of the course at its starts, once per course."""
        if course_id not in self._start_prices:
            if self._prices is None:
                self._prices = StartPrices(self.problem, self.builder, self.weights)
            dom = self.domains[course_id]
            self._start_prices[course_id] = self._prices.of(dom.course, dom.starts())
        return self._start_prices[course_id]

    def blocking(self, course_id: str, start: int, current: Sequence[Placement]) -> set[str] | None:
        """Courses holding what the course needs to start at `start`: its cohorts, and the
        site and the trainer with fewest courses in the way (None: no site or trainer may
        take it there)."""
        dom = self.domains[course_id]
        course, ppd = dom.course, self.grid.periods_per_day
        firsts = [start + k * ppd for k in range(course.sessions)]
        if course.pattern != "block":
            firsts = [start]
        slots = [s + j for s in firsts for j in range(course.length)]

        def holders(key: str) -> set[str]:
            held = self.occupants(key, current)
            return {held[s] for s in slots if s in held} - {course_id}

        out: set[str] = set()
        for q in course.cohorts:
            out |= holders(f"cohort:{q}")
        sites = self.cheapest_sites(
            course_id, [x for x in sorted(dom.sites) if dom.site_allows(x, start)]
        )
        trainers = [
            t for t in sorted(dom.trainers) if all(dom.trainer_allows(t, s) for s in firsts)
        ]
        for prefix, options in (("site", sites), ("trainer", trainers)):
            least = min((holders(f"{prefix}:{o}") - out for o in options), key=len, default=None)
            if least is None:
                return None
            out |= least
        return out

    def cheapest_sites(self, course_id: str, sites: list[str]) -> list[str]:
        """Those of `sites` where the course pays least for seats and preference: a cheaper
        start is cheaper there (S seed 3 paid 60 for sessions away from preferred sites, and
        blocked steps freed the way into an empty room it did not prefer)."""
        prices = {x: self.site_price(course_id, x) for x in sites}
        least = min(prices.values(), default=0)
        return [x for x in sites if prices[x] == least]

    def site_price(self, course_id: str, site_id: str) -> int:
        """`site_charge` of the course at the site."""
        course = self.domains[course_id].course
        site = self.problem.site_by_id[site_id]
        return site_charge(self.weights, course, site, self.problem.attendance(course))

    def occupants(self, key: str, current: Sequence[Placement]) -> dict[int, str]:
        """Slot -> the course holding resource `key` ("site:s", "trainer:t", "cohort:q")
        there in `current`; worked out from the courses that may use it, once per schedule."""
        if self._occupants is None or self._occupants[0] is not current:
            self._occupants = (current, {})
        known = self._occupants[1]
        if key not in known:
            kind, name = key.split(":", 1)
            placed = self.whole(current).placed
            held: dict[int, str] = {}
            for course_id in sorted(self.neighbourhoods.by_resource.get(key, ())):
                length = self.domains[course_id].course.length
                for pl in placed.get(course_id, ()):
                    if (kind == "site" and pl.site != name) or (
                        kind == "trainer" and pl.trainer != name
                    ):
                        continue
                    day = self.grid.day_index(pl.day)
                    if day is not None:
                        s = self.grid.slot(day, pl.period)
                        held.update(dict.fromkeys(range(s, s + length), course_id))
            known[key] = held
        return known[key]

    def credit(self, kind: str, saved: int, before: int) -> None:
        """A step of this kind (its family: "resource", not "resource:site") saved `saved`
        from a schedule costing `before`."""
        if kind in self.scores:
            share = saved / before if before > 0 else 0.0
            self.scores[kind] = (1 - REACTION) * self.scores[kind] + REACTION * share
        if kind in ("costly", "blocked") and saved <= 0:
            self.resting.update(dict.fromkeys(self.seeds, self.picks + REST_STEPS))
        self.seeds = []

    def whole(self, current: Sequence[Placement]) -> WholeBackdrop:
        """`current` by course and folded, worked out once per schedule."""
        for known in (self._whole, self._next):
            if known is not None and known[0] is current:
                self._whole = known
                return known[1]
        self._whole = (current, WholeBackdrop.of(self.problem, self.grid, group(current)))
        return self._whole[1]

    def costly_seeds(self, costly: Mapping[str, int], k: int) -> list[str]:
        """Up to `k` of the costliest courses not resting, drawn by what they pay."""
        awake = [
            c for c, cost in costly.items() if cost > 0 and self.resting.get(c, 0) <= self.picks
        ]
        pool = sorted(awake, key=lambda c: (-costly[c], c))[:COSTLY_POOL]
        seeds: list[str] = []
        while pool and len(seeds) < k:
            i = self.rng.choices(range(len(pool)), [costly[c] for c in pool])[0]
            seeds.append(pool.pop(i))
        self.seeds = seeds
        return seeds

    def pick(
        self, current: Sequence[Placement], size: int, costly: Mapping[str, int]
    ) -> tuple[str, set[str], tuple[int, int] | None]:
        """A neighbourhood of about `size` courses, of a kind drawn by what such steps have
        saved lately, and for the "days" kind the stretch of slots outside which its courses'
        sessions stay put."""
        top = max(self.scores.values())
        kinds = list(self.scores)
        odds = [max(self.scores[k], FLOOR * top, 1e-9) for k in kinds]
        kind = self.rng.choices(kinds, odds)[0]
        self.picks += 1
        courses = sorted(self.domains)
        if kind == "days":
            found = self.stretch(current, round(size * self.mean_sessions))
            if found is not None:
                return kind, found[0], found[1]
        if kind == "window":
            spans = self.spans(current)
            if spans:
                centre = self.rng.choice(sorted(spans.values()))[0]
                by_distance = sorted(spans, key=lambda c: (abs(spans[c][0] - centre), c))
                return kind, set(by_distance[:size]), None
        if kind == "resource":
            key = self.rng.choice(sorted(self.neighbourhoods.by_resource))
            members = sorted(self.neighbourhoods.by_resource[key])
            self.rng.shuffle(members)
            chosen = set(members[:size])
            if len(chosen) < size // 2 and members:
                chosen = self.around(members[:1], current, size)
            return f"{kind}:{key.split(':')[0]}", chosen, None
        if kind == "costly":
            seeds = self.costly_seeds(costly, max(1, size // 4))
            if seeds:
                return kind, self.around(seeds, current, size), None
        if kind == "peak":
            cover = self.at_peak(current)
            if cover and len(cover) <= PEAK_COVER * size:
                return kind, self.around(cover, current, max(size, len(cover))), None
        if kind == "blocked":
            seeds = self.costly_seeds(costly, 2)
            if seeds:
                # Already aimed: the rest of the step is only room for the courses in the way
                # to go, and a smaller model is solved to the end within the step.
                aimed = self.blocked(seeds, current, size)
                return kind, self.around(aimed, current, max(len(aimed), size // 2)), None
        self.rng.shuffle(courses)
        return "random", set(courses[:size]), None
