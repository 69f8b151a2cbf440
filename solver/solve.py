"""`solve(problem, weights, params)`: pre-checks, construction, CP-SAT, checking, explanation.

Every returned schedule has been recomputed by the independent checker: the objective and the
breakdown reported are the checker's, so they mean exactly what the rules say.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ortools.sat.python import cp_model as cp

from solver.bounds import lower_bound
from solver.checker import check
from solver.construct import Construction, construct
from solver.domains import DomainBuilder
from solver.explain import conflicting_rules
from solver.grid import TimeGrid
from solver.heap import collector_paused, heap_held
from solver.kernel import Kernel
from solver.lns import Search, StepResult, group, set_hints
from solver.local import MOVES_PER_S, Anneal, Annealer, Budget, Local, Spot, anneal_until
from solver.local import improve as local_improve
from solver.model import ModelVars, build_model
from solver.parallel import Aside
from solver.params import SolveParams
from solver.precheck import precheck
from solver.problem import Placement, Problem, Weights, reference_errors
from solver.solution import CheckResult, Cost, RepairPolicy, Solution, Unscheduled


@dataclass(frozen=True)
class Progress:
    """A progress report for people watching a long solve."""

    elapsed: float
    phase: str
    objective: int | None = None
    bound: int | None = None
    gap: float | None = None
    steps: int = 0  # neighbourhoods tried so far
    improvements: int = 0  # schedules that were better than the best before them


ProgressFn = Callable[[Progress], None]


def gap_of(objective: int | None, bound: int | None) -> float | None:
    if objective is None or bound is None:
        return None
    if objective <= 0:
        return 0.0
    return max(0.0, (objective - bound) / objective)


def solve(
    problem: Problem,
    weights: Weights,
    params: SolveParams = SolveParams(),
    policy: RepairPolicy = RepairPolicy(),
    progress: ProgressFn | None = None,
    stop: Callable[[], bool] | None = None,
) -> Solution:
    """Place every course's sessions, or say why not. Deterministic for workers=1.

    `stop` is asked between search steps (each at most a few seconds): when it answers True
    the solve ends early with the best schedule found so far (a cancelled request).
    The plan lives as long as the solve: it is kept out of garbage collections meanwhile
    (`heap_held`; on a national plan they took 0.9 s of a 4.5 s repair and freed nothing).
    """
    with heap_held():
        return _solve(problem, weights, params, policy, progress, stop)


def _solve(
    problem: Problem,
    weights: Weights,
    params: SolveParams,
    policy: RepairPolicy,
    progress: ProgressFn | None,
    stop: Callable[[], bool] | None,
) -> Solution:
    t0 = time.monotonic()
    report = progress or (lambda p: None)
    errors = reference_errors(problem)
    if errors:
        return Solution(status="invalid", prechecks=errors, weights=weights, policy=policy)
    grid = TimeGrid.of(problem.calendar)
    stats: dict[str, Any] = {"working_days": grid.n_days, "slots": grid.n_slots}
    # On a large plan with two cores the pre-checks run on the other core while the
    # construction works (about a second each on a national plan); a fatal finding still ends
    # the solve before any search, and the construction's work is then thrown away.
    aside = params.workers > 1 and len(problem.courses) >= ASIDE_COURSES
    stats["aside"] = aside
    checks = Aside(lambda: precheck(problem, grid), aside)
    early: Built | None = None
    try:
        if aside:
            report(Progress(time.monotonic() - t0, "construct"))
            with contextlib.suppress(Exception):  # a plan the pre-checks reject may break it
                early = _built(problem, grid, weights, params, policy)
        findings = checks.result()
    finally:
        checks.close()
    # Fatal for the plan: course-less overloads, broken pins, and required courses that
    # cannot be placed (an optional one is just left out, with the finding as its reason).
    fatal_required = [
        f
        for f in findings
        if f.fatal and (f.course is None or f.rule == "pin" or problem.course(f.course).required)
    ]
    notes = [f.message for f in findings]
    if fatal_required:
        conflicts = [f.message for f in fatal_required]
        return _infeasible(problem, grid, weights, policy, notes, conflicts, stats, t0)

    if early is None:
        report(Progress(time.monotonic() - t0, "construct"))
    start, builder, pinned, rounds = early or _built(problem, grid, weights, params, policy)
    stats["construct_rounds"] = rounds
    stats["construct_s"] = round(time.monotonic() - t0, 3)
    stats["construct_unplaced"] = len(start.unplaced)
    run = Run(problem, weights, policy, params, report, t0, 0, stats, stop)
    # Required courses, and those with pinned or frozen sessions, must be placed.
    run.must = [c.id for c in problem.courses if c.required or c.id in pinned]
    run.missing = list(run.must)
    # The bound's relaxations get a share of the time (a repair's 2 s leave them a fraction
    # of a second: counted bounds then). With two cores it is worked out on the other one
    # while the first schedule is checked and the search goes on, and taken when it is in;
    # else (tiny plans, one worker) here, before the search, which it may end.
    budget = min(BOUND_BUDGET, BOUND_SHARE * params.time_limit)
    bound_aside = (
        params.workers > 1 and sum(c.sessions for c in problem.courses) >= BOUND_ASIDE_SESSIONS
    )
    stats["bound_aside"] = bound_aside
    bound = Aside(lambda: lower_bound(problem, grid, weights, policy, builder, budget), bound_aside)
    run.pending = bound
    try:
        run.offer(list(start.placements), "construct")
        if start.settled is not None:
            run.offer(list(start.settled), "construct:settled")
        run.attach(builder, pinned)
        run.collect_bound()  # computed here when not aside; aside, taken if already in
        run.complete(start.unplaced)
        run.improve()
        # The bound's budget is a tenth of the limit, started early: it is in long before
        # the end unless the machine is far slower than its clock assumes. A cancelled
        # solve does not wait for it at all.
        stopped = run.stats.get("stopped_early", False)
        run.collect_bound(wait=0.0 if stopped else BOUND_GRACE * params.time_limit + 1.0)
        run.final()
    finally:
        bound.close()
    return run.answer(grid, findings, notes)


class Built(NamedTuple):
    """The construction's schedule, the course domains it built, the courses it left to CP-SAT,
    the rounds it was allowed."""

    start: Construction
    builder: DomainBuilder
    pinned: set[str]
    rounds: int


def _built(
    problem: Problem, grid: TimeGrid, weights: Weights, params: SolveParams, policy: RepairPolicy
) -> Built:
    """The first schedule: a repair starts from the previous one, pins and frozen sessions stay."""
    keep = list(problem.previous or []) if params.mode == "repair" else []
    pinned = pinned_courses(problem, grid, policy)
    builder = DomainBuilder(problem, grid)
    rounds = construction_rounds(len(problem.courses), params.time_limit)
    # Settling costs a fifth of a round a pass (M: 0.7 s); a repair moves no more than it must.
    settle = params.mode != "repair"
    with collector_paused():  # what it builds (course domains) lives as long as the solve
        start = construct(problem, grid, weights, keep, pinned, builder, rounds, settle)
    return Built(start, builder, pinned, rounds)


def checked(
    problem: Problem, placements: list[Placement], weights: Weights, policy: RepairPolicy
) -> CheckResult:
    """The checker's verdict, with no garbage collections meanwhile: the schedule it resolves
    (70,000 sessions on a national plan) lives until it ends (0.4 s of collections there)."""
    with collector_paused():
        return check(problem, placements, weights, policy)


# Constructions tried while some course stays unplaced: at most CONSTRUCT_ROUNDS, and at most
# CONSTRUCT_WORK courses placed per second of the time limit (counted, not timed, so that runs
# stay reproducible). A round costs 0.05 s on ITC-2007 comp05 (54 courses), 0.4 s on a city's
# year, 3.8 s on a province's, 12 s on a national plan: up to ~15 % of the limit, and only
# while a course is left out, which without a round more may leave no schedule at all (L seed
# 3 at 600 s: two rounds left one course out that no neighbourhood step then placed in 300 s;
# the fourth round places every course). A 2 s repair gets one round.
CONSTRUCT_ROUNDS = 40
CONSTRUCT_WORK = 120


def construction_rounds(courses: int, time_limit: float) -> int:
    return max(1, min(CONSTRUCT_ROUNDS, int(CONSTRUCT_WORK * time_limit / max(1, courses))))


# Python work per neighbourhood step (clone, check) charged to the deterministic clock, so that
# one-worker runs stop after the same number of steps on any machine.
STEP_OVERHEAD = 0.05
# Deterministic seconds for the lower bound's relaxations: at most this, and this share of
# the time limit. On S every group is proven optimal in ~2 s. On M the bound's time terms were
# 11,999 at 5 s and 17,417 at 60 s (every group relaxed, 32 s of wall time); on L 35,476 at 5 s
# and 62,359 at 60 s (79 s): the gap reported was mostly the bound's, not the schedule's. The
# search no longer waits for it on large plans (it is worked out aside), so it can be given
# its share.
BOUND_BUDGET = 120.0
BOUND_SHARE = 0.1
# Past the time limit, a share of it waited for a bound still being worked out aside; after
# that the answer goes without it (its bound is then CP-SAT's or 0, and `own_bound` is absent).
BOUND_GRACE = 0.1
# Plans with at least this many courses, solved with two workers or more, run their pre-checks
# in a forked child while the construction works (a city's take 0.2 s, less than a fork of the
# process is worth; a province's 1 s, a national plan's 3-5 s).
ASIDE_COURSES = 1000
# Plans with at least this many sessions, solved with two workers or more, work out their bound
# in a forked child while the search goes on. A city's year's bound takes 5-8 s of wall time
# (1.2 deterministic s; CP-SAT's clock undercounts these relaxations), and the search waited
# for it: S seeds 1-3 x 2 at 60 s, with it aside, 8-10 more steps, lower cost in 5 of 6 pairs.
# ITC-2007 comp05 (152 lectures) took 17 s for its bound: at 60 s, 799 / 840 with it aside
# against 872 / 966 (seeds 1, 2). Tiny plans (tests, a what-if of a few courses) keep it here.
BOUND_ASIDE_SESSIONS = 100
# A check slower than this (seconds) is dear: a step's better schedule is then kept on its
# model's word and checked at most once per CHECK_EVERY checks' time (on S a check takes 0.05 s
# and every schedule is checked as it comes).
CHECK_DEAR = 0.2
CHECK_EVERY = 10
# Seconds kept in hand at the end of a solve to assemble the answer.
END_MARGIN = 0.05
# Improvement steps: seconds per neighbourhood and courses in the first one (it adapts).
STEP_LIMIT = 1.0
# Local moves (solver/local.py), in rounds of LOCAL_ROUND: before the neighbourhood steps
# until LOCAL_STALL rounds in a row save nothing (or LOCAL_SHARE of the limit is spent), and
# after each step that improved until LOCAL_AFTER_STALL do (or LOCAL_AFTER_SHARE). A
# one-worker run charges its deterministic clock LOCAL_MOVES_PER_S moves a second.
LOCAL_ROUND = 5000
LOCAL_STALL = 10
LOCAL_SHARE = 0.5
LOCAL_AFTER_STALL = 2
LOCAL_AFTER_SHARE = 0.05
LOCAL_MOVES_PER_S = MOVES_PER_S
LOCAL_OFFER_ROUNDS = 5  # about a second on a city's plan
# Simulated annealing first, for ANNEAL_SHARE of the limit, the temperature falling
# geometrically from ANNEAL_HOT to ANNEAL_COLD times the plan's smallest weight (a move
# costing that much is taken at odds 0.72 at first, 2e-9 at the end): compiled
# (solver/kernel.py `Kernel`, 130-210k moves a second) where its price tables fit, else in
# Python (solver/local.py `Anneal`, 10-20k). It needs many tries per session to pay: only
# when ANNEAL_MIN_MOVES a movable session fit in its share at the rate its first probe ran
# (one worker: the annealer's `rate`, so that runs stay reproducible). In Python, ITC-2007
# at 60 s got 800-2,000 and a city's plan 150 (and lost: S1 1,464 against 1,432); compiled,
# both get thousands (ITC at 60 s: geometric mean 2.67 -> 1.48; S unchanged).
# Share 0.85 against 0.6 at 60 s, compiled: 1.63 against 1.48 (single runs).
ANNEAL_SHARE = 0.6
ANNEAL_HOT = 3.0
ANNEAL_COLD = 0.05
ANNEAL_MIN_MOVES = 500
TWIN_WAIT = 2.0  # seconds the second annealing may be waited for at the end
ANNEAL_PROBE = 500  # moves timed to know the rate (a city's plan: 0.07 s)
FIRST_SIZE = 15
# A step's search gets STEP_RATIO times what the rest of a step takes (picking, building the
# model, completing its hint, checking the result: measured as the run goes), between
# SHORT_STEP and STEP_LIMIT seconds. CP-SAT finds most of what a neighbourhood holds early:
# 63 step models of S seed 3 saved 400 in 0.5 s and 460 in 0.9 s, so where the set-up is
# cheap (S: 0.1 s a step) short steps buy more per second. On S seeds 1-6 at 30 s, 0.6 s steps
# reached 2.1 % less in sum than 1 s steps (mean of two runs; better on 5 of 6), 0.4 s steps
# 1 % less. A province's step set-up measured 0.33 s and a national plan's model alone takes
# 0.7 s to build: their steps stay at a second.
SHORT_STEP = 0.6
STEP_RATIO = 6.0
# The closing CP-SAT run on the whole model, for a bound and a last improvement, only when the
# plan is small enough for it to get past presolve: on a city's year (1,716 sessions) it spent
# its whole slice in presolve and proved a bound of 0, time better spent on neighbourhoods.
FULL_MODEL_MAX_SESSIONS = 1000


class Run:
    """One solve's search state: the best schedule so far, the bound, the clock."""

    def __init__(
        self,
        problem: Problem,
        weights: Weights,
        policy: RepairPolicy,
        params: SolveParams,
        report: ProgressFn,
        t0: float,
        own_bound: int,
        stats: dict[str, Any],
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self.problem, self.weights, self.policy, self.params = problem, weights, policy, params
        self.report, self.t0, self.stats, self.stop = report, t0, stats, stop
        self.best: list[Placement] = []
        self.best_cost: int | None = None  # checker objective of a complete, valid schedule
        self.best_check: CheckResult | None = None  # the checker's verdict on `best`
        self.must: list[str] = [c.id for c in problem.courses if c.required]
        self.missing: list[str] = list(self.must)
        self.costly: dict[str, int] = {}  # course -> what it pays in the best schedule
        self.bound = own_bound
        self.pending: Aside[int] | None = None  # the product's own bound, being worked out
        self.cpsat_bound: int | None = None
        self.proven = False
        self.det_used = 0.0
        self.check_s = 0.0  # how long the checker took on the last schedule offered
        self.checked_at = 0.0  # when it last ran (monotonic clock)
        self.steps = 0
        self.improvements = 0
        self.setup_s: float | None = None  # a step's set-up, smoothed (see STEP_RATIO)

    def collect_bound(self, wait: float = 0.0) -> None:
        """Take the product's own bound when it is in, waiting up to `wait` seconds for it."""
        aside = self.pending
        if aside is None or not aside.ready(wait):
            return
        self.pending = None
        own = aside.result()
        self.bound = max(self.bound, own)
        self.stats["own_bound"] = own
        self.stats["bound_s"] = round(aside.seconds, 3)
        self.stats["bound_in_s"] = round(self.elapsed(), 3)
        if self.best_cost is not None:
            self.progress("bound")

    def attach(self, builder: DomainBuilder, pinned: set[str]) -> None:
        """The neighbourhood search, set up once the construction's schedule is on offer."""
        self.grid, self.builder, self.pinned = builder.grid, builder, pinned
        self.search = Search(self.problem, builder, self.weights, self.policy, self.params, extract)
        self.local_rng = random.Random(self.params.seed)

    def polish(self, stall: int, share: float, reserve: float = 0.0) -> int:
        """Local moves from the best schedule (solver/local.py) in rounds of LOCAL_ROUND,
        until `stall` rounds in a row save nothing or `share` of the time limit is spent,
        leaving `reserve` seconds (the final full-model solve's); offered as it goes (where
        `local_search` applies)."""
        local = self.local_search()
        if local is None or self.best_cost is None:
            return 0
        one = self.params.workers == 1
        allowed = share * self.params.time_limit
        wall0, det0 = self.elapsed(), self.det_used
        saved = rounds = idle = unoffered = 0
        end = self.params.time_limit - reserve - 0.5
        while self.left() > reserve + 0.5 and idle < stall and self.best_cost > self.bound:
            deadline = None if one else self.t0 + min(wall0 + allowed, end)
            got = local_improve(local, self.local_rng, Budget(LOCAL_ROUND, deadline))
            self.det_used += LOCAL_ROUND / LOCAL_MOVES_PER_S
            saved, rounds, idle = saved + got, rounds + 1, 0 if got else idle + 1
            unoffered += got
            # Offered now and then (counted in rounds, so that one-worker runs stay
            # reproducible), so that progress shows and the bound can end the search.
            if unoffered and rounds % LOCAL_OFFER_ROUNDS == 0:
                self.offer(local.placements(), "local", unoffered)
                unoffered = 0
            self.collect_bound()
            self.progress("searching (local)")
            if (self.det_used - det0 if one else self.elapsed() - wall0) >= allowed:
                break
        if unoffered:
            self.offer(local.placements(), "local", unoffered)
        self.stats["local_moves"] = self.stats.get("local_moves", 0) + rounds * LOCAL_ROUND
        self.stats["local_saved"] = self.stats.get("local_saved", 0) + saved
        return saved

    def local_search(self) -> Local | None:
        """The best schedule held for local moves (courses with pinned or frozen sessions
        stay); None where they do not apply: something required is unplaced, or a previous
        schedule makes moves pay perturbation, which their prices leave out."""
        if self.missing or self.best_cost is None or self.problem.previous:
            return None
        movable = {c.id for c in self.problem.courses} - self.pinned
        return Local(self.problem, self.builder, self.weights, self.best, movable)

    def anneal(self, share: float, reserve: float) -> int:
        """Simulated annealing from the best schedule for `share` of the time limit (leaving
        `reserve`), the temperature falling as the time (one worker: the moves) runs down;
        its best schedule offered as it goes (where `local_search` applies)."""
        local = self.local_search()
        if local is None or self.best_cost is None:
            return 0
        sa: Annealer = Kernel.of(local, self.params.seed) or Anneal(local, self.local_rng)
        self.stats["anneal_compiled"] = isinstance(sa, Kernel)
        unit = min((w for w in self.weights.model_dump().values() if w > 0), default=1)
        hot, cold = ANNEAL_HOT * unit, ANNEAL_COLD * unit
        one = self.params.workers == 1
        allowed = min(share * self.params.time_limit, self.left() - reserve - 0.5)
        total = max(1, int(allowed * sa.rate / sa.round))  # one worker: rounds
        sessions = len(local.movable) + sum(len(b) for b in local.blocks)
        wall0 = self.elapsed()
        probe = ANNEAL_PROBE * sa.round // LOCAL_ROUND
        gained = unoffered = sa.run(probe, hot) if not one else 0
        rate = sa.rate if one else probe / max(1e-6, self.elapsed() - wall0)
        self.stats["anneal_moves_per_session"] = round(allowed * rate / max(1, sessions))
        if allowed * rate < ANNEAL_MIN_MOVES * sessions:
            if unoffered:
                self.offer(sa.best_placements(), "anneal", unoffered)
            return gained  # too few tries for it to pay: descent and steps do better
        twin = self.twin(sa, hot, cold, self.t0 + wall0 + allowed) if not one else None
        rounds = 0
        while self.left() > reserve + 0.5 and self.best_cost - unoffered > self.bound:
            done = rounds / total if one else (self.elapsed() - wall0) / max(allowed, 1e-9)
            if done >= 1:
                break
            got = sa.run(sa.round, hot * (cold / hot) ** done)
            self.det_used += sa.round / sa.rate
            rounds, gained, unoffered = rounds + 1, gained + got, unoffered + got
            if unoffered and rounds % LOCAL_OFFER_ROUNDS == 0:
                self.offer(sa.best_placements(), "anneal", unoffered)
                unoffered = 0
            self.collect_bound()
            self.progress("searching (anneal)")
        if unoffered:
            self.offer(sa.best_placements(), "anneal", unoffered)
        if twin is not None:
            got = self.twin_result(twin, local)
            gained += got
        self.stats["anneal_moves"] = rounds * sa.round
        self.stats["anneal_saved"] = gained
        return gained

    def twin(
        self, sa: Annealer, hot: float, cold: float, until: float
    ) -> Aside[tuple[int, list[Spot]] | None] | None:
        """A second annealing on the other core, from the same schedule with its own random
        moves until `until` (monotonic clock); None where it cannot be forked. Annealing's
        answers vary from run to run: the better of two is kept."""
        parent, seed = os.getpid(), self.params.seed + 7919
        floor = self.bound

        def search() -> tuple[int, list[Spot]] | None:
            if os.getpid() == parent:  # the child failed: not worth its time again here
                return None
            sa.reseed(seed)
            return anneal_until(sa, hot, cold, until, floor)

        aside: Aside[tuple[int, list[Spot]] | None] = Aside(search, in_child=True)
        if not aside.in_child:
            return None
        return aside

    def twin_result(self, twin: Aside[tuple[int, list[Spot]] | None], local: Local) -> int:
        """The second annealing's schedule offered; what it saved on the best."""
        wait = 0.0 if self.stats.get("stopped_early") else TWIN_WAIT  # cancelled: no wait
        try:
            if not twin.ready(wait=wait):
                return 0
            found = twin.result()
        finally:
            twin.close()
        if found is None or self.best_cost is None:
            return 0
        cost, spots = found
        self.stats["anneal_twin"] = cost
        before = self.best_cost
        if cost < before and self.offer(local.placements(spots), "anneal:twin", before - cost):
            return before - self.best_cost
        return 0

    # The clock: wall time, or deterministic time with one worker (reproducible runs).
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        if self.stop is not None and self.stop():
            self.stats["stopped_early"] = True
            return 0.0
        # A step's result still has to be checked and the answer assembled: keep the last
        # check's time and a margin in hand (CP-SAT overruns its limit by a few ms too).
        wall_left = self.params.time_limit - self.elapsed() - self.check_s - END_MARGIN
        if self.params.workers == 1:
            guard = 3 * self.params.time_limit - self.elapsed()
            return min(self.params.time_limit - self.det_used, guard)
        return wall_left

    def offer(self, placements: list[Placement], source: str, saving: int = 0) -> bool:
        """Keep `placements` if better: fewer required courses missing, then cheaper.

        `saving`: what a neighbourhood step's model says the schedule saves on the best. Where
        checking is dear (1.0 s on a province's plan, 5.7 s on a national one, as long as a
        step), such a schedule is kept on the model's word, and checked (`verify`) at most
        every CHECK_EVERY checks' time, before the full model and before the answer."""
        dear = self.check_s > CHECK_DEAR
        if saving > 0 and dear and self.best_cost is not None and not self.missing:
            self.best, self.best_check = placements, None
            self.best_cost -= saving  # the model's saving is never more than the checker's
            self.improvements += 1
            self.progress(source)
            if time.monotonic() - self.checked_at > CHECK_EVERY * self.check_s:
                self.verify()
            return True
        result = self.check(placements)
        placed = {pl.course for pl in placements}
        missing = [c for c in self.must if c not in placed]
        # A course that must be placed and is not shows up as sessions/pinned/frozen trouble;
        # anything else, or anything at all once nothing is missing, is a bug.
        excused = ("sessions", "pinned", "frozen") if missing else ()
        broken = [v for v in result.violations if v.rule not in excused]
        if broken:
            raise AssertionError(f"{source} broke a hard rule: {broken[:3]}")
        inf = float("inf")
        key = (len(missing), inf if missing else result.objective)
        current = (len(self.missing), inf if self.best_cost is None else self.best_cost)
        if self.best and key >= current:
            return False
        self.best, self.missing, self.best_check = placements, missing, result
        if missing:
            return True
        if self.best_cost is None:
            self.stats["first_feasible_s"] = round(self.elapsed(), 3)
        self.take(result)
        self.improvements += 1
        self.progress(source)
        return True

    def take(self, result: CheckResult) -> None:
        """The checker's verdict on the best schedule: its cost, and its costliest courses."""
        self.best_check, self.best_cost = result, result.objective
        self.costly = course_costs(result.costs)

    def check(self, placements: list[Placement]) -> CheckResult:
        """The checker's verdict, timed: how long checks take decides how often they run."""
        started = time.monotonic()
        result = checked(self.problem, placements, self.weights, self.policy)
        self.check_s, self.checked_at = time.monotonic() - started, time.monotonic()
        return result

    def verify(self) -> None:
        """Check a best schedule kept on a step model's word; a broken hard rule is a bug."""
        if self.best_check is not None or not self.best:
            return
        result = self.check(self.best)
        if result.violations:
            raise AssertionError(f"a neighbourhood step broke a hard rule: {result.violations[:3]}")
        self.take(result)

    def progress(self, phase: str) -> None:
        bound = None if self.pending is not None else self.bound  # not known yet: no gap
        self.report(
            Progress(
                self.elapsed(),
                phase,
                self.best_cost,
                bound,
                gap_of(self.best_cost, bound),
                self.steps,
                self.improvements,
            )
        )

    def complete(self, unplaced: Sequence[str]) -> None:
        """Place what the construction could not, with the courses in its way (`blocked`:
        those holding its cohorts, a site and a trainer at its starts) and their neighbours
        re-placed."""
        size = 20
        while self.missing and self.left() > 0.2:
            self.collect_bound()
            seeds = self.missing[:3]
            aimed = self.search.blocked(seeds, self.best, size)
            free = self.search.around(aimed, self.best, size)
            limit = min(max(1.0, self.left() / 4), 5.0)
            result = self.step("complete", free, limit, first_solution=True).placements
            if result is None or not self.offer(result, "complete"):
                size = min(400, int(size * 1.6) + 1)
            if size >= 400 and self.elapsed() > self.params.time_limit / 2:
                break

    def step(
        self,
        kind: str,
        free: set[str],
        limit: float,
        first_solution: bool = False,
        window: tuple[int, int] | None = None,
        narrow: bool = False,
    ) -> StepResult:
        """One neighbourhood step from the best schedule, counted and reported."""
        r = self.search.step(self.best, free, limit, first_solution, window, narrow)
        self.det_used += r.deterministic_time / self.search.rate + STEP_OVERHEAD
        self.steps += 1
        tried = self.stats.setdefault("neighbourhoods", {})
        tried[kind] = tried.get(kind, 0) + 1
        self.progress(f"searching ({kind})")
        return r

    def improve(self) -> None:
        """Neighbourhood search until the time left is what the final full solve needs."""
        if self.missing or self.best_cost is None:
            return
        if self.params.mode == "repair" and self.settle():
            return
        reserve = self.final_budget()
        self.anneal(ANNEAL_SHARE, reserve)
        self.polish(LOCAL_STALL, LOCAL_SHARE, reserve)
        size = FIRST_SIZE
        while self.left() > reserve + 0.2 and self.best_cost > self.bound:
            started = time.monotonic()
            self.collect_bound()
            kind, free, window = self.search.pick(self.best, size, self.costly)
            limit = min(self.step_limit(), max(0.3, self.left() - reserve))
            before = self.best_cost
            family = kind.split(":")[0]
            r = self.step(family, free, limit, window=window, narrow=True)
            if (
                r.better
                and r.placements is not None
                and self.offer(r.placements, f"lns:{kind}", r.saving)
            ):
                # What each kind of neighbourhood has bought: where the search's time pays.
                gains = self.stats.setdefault("gains", {})
                gains[family] = gains.get(family, 0) + before - self.best_cost
            self.search.credit(family, before - self.best_cost, before)
            self.timed_setup(time.monotonic() - started - r.search_s)
            if self.best_cost < before:
                self.polish(LOCAL_AFTER_STALL, LOCAL_AFTER_SHARE, reserve)
            if r.status == "OPTIMAL_ALL":
                self.proven = True
                self.stats["model_objective"] = r.model_objective
                return
            if r.status == "OPTIMAL" and r.deterministic_time < limit / 2:
                size = min(len(self.problem.courses), int(size * 1.25) + 1)
            elif self.best_cost == before:
                size = max(8, int(size * 0.9))

    def step_limit(self) -> float:
        """Seconds for the next improvement step's search (see STEP_RATIO). One-worker runs
        keep STEP_LIMIT: a limit from the wall clock would make them irreproducible."""
        if self.setup_s is None or self.params.workers == 1:
            return STEP_LIMIT
        return min(STEP_LIMIT, max(SHORT_STEP, STEP_RATIO * self.setup_s))

    def timed_setup(self, seconds: float) -> None:
        self.setup_s = seconds if self.setup_s is None else 0.8 * self.setup_s + 0.2 * seconds
        self.stats["step_setup_s"] = round(self.setup_s, 3)

    def changed(self) -> list[str]:
        """Courses whose sessions differ from the previous schedule's (moved, re-staffed,
        newly placed or dropped)."""
        before = {
            (pl.course, pl.session): (pl.day, pl.period, pl.site, pl.trainer)
            for pl in self.problem.previous or []
        }
        now = {
            (pl.course, pl.session): (pl.day, pl.period, pl.site, pl.trainer) for pl in self.best
        }
        known = {c.id for c in self.problem.courses}
        keys = set(before) | set(now)
        return sorted({c for c, s in keys if c in known and before.get((c, s)) != now.get((c, s))})

    def settle(self) -> bool:
        """A repair re-solves what changed and what sits around it first, again while that
        pays. True when that neighbourhood has nothing better (proven, or none found in a
        step's search) or nothing changed: moving courses further from the event only adds
        perturbation, so the repair ends there instead of spending its whole time limit."""
        while self.left() > 0.2:
            changed = self.changed()
            self.stats["repair_changed_courses"] = len(changed)
            if not changed:
                self.stats["repair_settled"] = "nothing changed"
                return True
            free = self.search.around(changed, self.best, max(FIRST_SIZE, len(changed)))
            r = self.step("repair", free, min(STEP_LIMIT, self.left()))
            if r.better and r.placements is not None and self.offer(r.placements, "repair"):
                continue  # better found near the event: look again around what changed now
            if r.status in ("OPTIMAL", "OPTIMAL_ALL"):
                self.stats["repair_settled"] = "proven"
            elif r.status == "FEASIBLE":
                self.stats["repair_settled"] = "nothing better found"
            return "repair_settled" in self.stats
        return False

    def full_model_pays(self) -> bool:
        return sum(c.sessions for c in self.problem.courses) <= FULL_MODEL_MAX_SESSIONS

    def final_budget(self) -> float:
        if not self.full_model_pays():
            return 0.0
        return min(0.25 * self.params.time_limit, 15.0)

    def final(self) -> None:
        """A full-model CP-SAT run from the best schedule: a bound, and sometimes better."""
        self.verify()
        if self.proven or self.stats.get("stopped_early") or not self.full_model_pays():
            self.stats.update(
                lns_steps=self.steps,
                improvements=self.improvements,
                wall_s=round(self.elapsed(), 3),
            )
            return
        limit = max(0.1, self.left())
        solver = cp.CpSolver()
        configure(solver, self.params, limit)
        mv = build_model(self.problem, self.grid, self.weights, self.policy)
        set_hints(mv, mv.model, group(self.best))
        status = solver.solve(mv.model)
        self.det_used += solver.deterministic_time
        self.stats.update(_solver_stats(solver, mv, status))
        if status in (cp.OPTIMAL, cp.FEASIBLE):
            self.offer(extract(mv, solver), "full")
            self.stats["model_objective"] = round(solver.objective_value)
        if status in (cp.OPTIMAL, cp.FEASIBLE, cp.INFEASIBLE):
            self.cpsat_bound = (
                math.ceil(solver.best_objective_bound - 1e-6) if status != cp.INFEASIBLE else None
            )
            self.proven = status == cp.INFEASIBLE or (
                status == cp.OPTIMAL
                and self.best_cost is not None
                and round(solver.objective_value) == self.best_cost
            )
        if self.cpsat_bound is not None:
            self.bound = max(self.bound, self.cpsat_bound)
        self.stats["infeasible_proven"] = status == cp.INFEASIBLE
        self.stats.update(
            lns_steps=self.steps,
            improvements=self.improvements,
            wall_s=round(self.elapsed(), 3),
            deterministic_s=round(self.det_used, 3),
        )

    def suspects(self) -> set[str] | None:
        """The courses never placed and those they compete with; None: the whole plan."""
        if not self.missing or not hasattr(self, "search"):
            return None
        courses = set(self.missing)
        for course_id in self.missing:
            courses |= self.search.neighbourhoods.related(course_id)
        return courses if len(courses) < len(self.problem.courses) else None

    def answer(self, grid: TimeGrid, findings: list[Any], notes: list[str]) -> Solution:
        problem, weights, policy, stats = self.problem, self.weights, self.policy, self.stats
        if self.best_cost is None:
            suspects = self.suspects()
            if stats.get("infeasible_proven"):
                return _infeasible(
                    problem, grid, weights, policy, notes, [], stats, self.t0, suspects
                )
            # A conflict among the courses that could not be placed proves the plan infeasible.
            found = conflicting_rules(problem, grid, weights, policy, 10.0, suspects)
            if found:
                return _infeasible(problem, grid, weights, policy, notes, found, stats, self.t0)
            notes = notes + [
                f"no schedule found in time; never placed: {', '.join(self.missing[:20])}"
            ]
            return Solution(
                status="unknown", prechecks=notes, weights=weights, policy=policy, stats=stats
            )
        self.verify()
        result = self.best_check or checked(problem, self.best, weights, policy)
        bound = min(self.bound, result.objective)
        optimal = self.proven or bound == result.objective
        return Solution(
            status="optimal" if optimal else "feasible",
            objective=result.objective,
            bound=result.objective if optimal else bound,
            gap=0.0 if optimal else gap_of(result.objective, bound),
            breakdown=result.breakdown,
            placements=sorted(self.best, key=lambda p: (p.course, p.session)),
            unscheduled=unscheduled(problem, self.best, findings),
            prechecks=notes,
            weights=weights,
            policy=policy,
            stats=stats,
        )


def course_costs(costs: Iterable[Cost]) -> dict[str, int]:
    """What each course pays, for the search to seed its steps with the costliest. A cost of
    a trainer, a unit or the plan (load over limits, density, load peak) is shared out among
    the courses it names, rounded up: else a trainer's overload never seeded a step (S seed 3
    paid 80 for it, a tenth of its gap)."""
    per_course: dict[str, int] = defaultdict(int)
    for c in costs:
        if c.course is not None:
            per_course[c.course] += c.cost
        elif c.courses:
            share = -(-c.cost // len(c.courses))
            for course_id in c.courses:
                per_course[course_id] += share
    return dict(per_course)


def pinned_courses(problem: Problem, grid: TimeGrid, policy: RepairPolicy) -> set[str]:
    """Courses with pins or frozen sessions: CP-SAT places them, not the greedy."""
    courses = {pin.course for pin in problem.pins}
    if problem.previous is not None and policy.now is not None:
        horizon = grid.shift(policy.now, policy.freeze_days)
        courses |= {pl.course for pl in problem.previous if pl.day < horizon}  # type: ignore[operator]
    return courses


def configure(solver: cp.CpSolver, params: SolveParams, time_limit: float) -> None:
    p = solver.parameters
    p.num_workers = params.workers
    p.random_seed = params.seed
    p.log_search_progress = params.log
    if params.gap_limit > 0:
        p.relative_gap_limit = params.gap_limit
    if params.workers == 1:
        # Deterministic work limit, so the same seed gives the same schedule on any machine;
        # the wall-clock limit only guards against a far slower machine.
        p.max_deterministic_time = time_limit
        p.max_time_in_seconds = time_limit * 4
    else:
        p.max_time_in_seconds = time_limit


def extract(mv: ModelVars, solver: cp.CpSolver) -> list[Placement]:
    """The placements of a CP-SAT solution."""
    grid = mv.grid
    out = []
    for cv in mv.courses.values():
        if not solver.boolean_value(cv.present):
            continue
        for sv in cv.sessions:
            slot = int(solver.value(sv.start))
            site = next(s for s, lit in sv.sites.items() if solver.boolean_value(lit))
            trainer = next(t for t, lit in sv.trainers.items() if solver.boolean_value(lit))
            out.append(
                Placement(
                    course=cv.course.id,
                    session=sv.index,
                    day=grid.day_ref(grid.day_of(slot)),
                    period=grid.period_of(slot),
                    site=site,
                    trainer=trainer,
                )
            )
    return out


def unscheduled(
    problem: Problem, placements: list[Placement], findings: list[Any]
) -> list[Unscheduled]:
    """Each course left out, with the reason a planner can act on."""
    placed = {pl.course for pl in placements}
    out = []
    for course in problem.courses:
        if course.id in placed:
            continue
        reasons = [f.message for f in findings if f.course == course.id and f.fatal]
        reason = "; ".join(reasons) or (
            f"left out at a cost of {course.priority} priority point(s): placing it would have "
            "cost more (it competes for the same trainers, sites or cohorts' time)"
        )
        out.append(Unscheduled(course=course.id, reason=reason))
    return out


def _infeasible(
    problem: Problem,
    grid: TimeGrid,
    weights: Weights,
    policy: RepairPolicy,
    notes: list[str],
    conflicts: list[str],
    stats: dict[str, Any],
    t0: float,
    suspects: set[str] | None = None,
) -> Solution:
    if not conflicts:
        found = conflicting_rules(problem, grid, weights, policy, courses=suspects)
        conflicts = found or [
            "the hard rules hold one by one, but there are not enough sites, trainers or "
            "cohort time to hold every required course together"
        ]
    stats["wall_s"] = round(time.monotonic() - t0, 3)
    return Solution(
        status="infeasible",
        prechecks=notes,
        conflicts=conflicts,
        weights=weights,
        policy=policy,
        stats=stats,
    )


def _solver_stats(solver: cp.CpSolver, mv: ModelVars, status: Any) -> dict[str, Any]:
    proto = mv.model.proto
    return {
        "cpsat_status": solver.status_name(status),
        "cpsat_wall_s": round(solver.wall_time, 3),
        "cpsat_bound": solver.best_objective_bound,
        "conflicts": solver.num_conflicts,
        "branches": solver.num_branches,
        "variables": len(proto.variables),
        "constraints": len(proto.constraints),
    }
