"""`solve(problem, weights, params)`: pre-checks, construction, CP-SAT, checking, explanation.

Every returned schedule has been recomputed by the independent checker: the objective and the
breakdown reported are the checker's, so they mean exactly what the rules say.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model as cp

from solver.checker import check
from solver.construct import construct
from solver.explain import conflicting_rules
from solver.grid import TimeGrid
from solver.model import ModelVars, build_model
from solver.params import SolveParams
from solver.precheck import precheck
from solver.problem import Placement, Problem, Weights, reference_errors
from solver.solution import RepairPolicy, Solution, Unscheduled


@dataclass(frozen=True)
class Progress:
    """A progress report for people watching a long solve."""

    elapsed: float
    phase: str
    objective: int | None = None
    bound: int | None = None
    gap: float | None = None


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
) -> Solution:
    """Place every course's sessions, or say why not. Deterministic for workers=1."""
    t0 = time.monotonic()
    report = progress or (lambda p: None)
    errors = reference_errors(problem)
    if errors:
        return Solution(status="invalid", prechecks=errors, weights=weights, policy=policy)
    grid = TimeGrid.of(problem.calendar)
    findings = precheck(problem, grid)
    fatal_required = [
        f
        for f in findings
        if f.fatal and f.course is not None and problem.course(f.course).required
    ]
    notes = [f.message for f in findings]
    stats: dict[str, Any] = {"working_days": grid.n_days, "slots": grid.n_slots}
    if fatal_required:
        conflicts = [f.message for f in fatal_required]
        return _infeasible(problem, grid, weights, policy, notes, conflicts, stats, t0)

    report(Progress(time.monotonic() - t0, "construct"))
    keep = list(problem.previous or []) if params.mode == "repair" else []
    start = construct(problem, grid, weights, keep=keep)
    stats["construct_s"] = round(time.monotonic() - t0, 3)
    stats["construct_unplaced"] = list(start.unplaced)
    best: tuple[list[Placement], int] | None = None
    if not start.unplaced:
        result = check(problem, start.placements, weights, policy)
        if result.feasible:
            best = (list(start.placements), result.objective)
            stats["first_feasible_s"] = stats["construct_s"]
            report(Progress(time.monotonic() - t0, "construct", result.objective))

    report(Progress(time.monotonic() - t0, "build"))
    mv = build_model(problem, grid, weights, policy)
    stats["build_s"] = round(time.monotonic() - t0 - stats["construct_s"], 3)
    add_hints(mv, start.placements)
    remaining = max(0.1, params.time_limit - (time.monotonic() - t0))
    solver = cp.CpSolver()
    configure(solver, params, remaining)
    callback = _Callback(mv, t0, report)
    status = solver.solve(mv.model, callback)
    stats.update(_solver_stats(solver, mv, status))
    stats["wall_s"] = round(time.monotonic() - t0, 3)

    if status in (cp.OPTIMAL, cp.FEASIBLE):
        placements = extract(mv, solver)
        result = check(problem, placements, weights, policy)
        if not result.feasible:
            raise AssertionError(f"model broke a hard rule: {result.violations[:3]}")
        if best is None or result.objective <= best[1]:
            best = (placements, result.objective)
        stats.setdefault("first_feasible_s", callback.first_s)
        stats["model_objective"] = int(solver.objective_value)
    if best is None:
        if status == cp.INFEASIBLE:
            return _infeasible(problem, grid, weights, policy, notes, [], stats, t0)
        return Solution(
            status="unknown", prechecks=notes, weights=weights, policy=policy, stats=stats
        )
    placements, objective = best
    result = check(problem, placements, weights, policy)
    bound = int(solver.best_objective_bound) if status in (cp.OPTIMAL, cp.FEASIBLE) else None
    bound = min(objective, bound) if bound is not None else None
    optimal = status == cp.OPTIMAL and objective == bound
    return Solution(
        status="optimal" if optimal else "feasible",
        objective=objective,
        bound=bound,
        gap=gap_of(objective, bound),
        breakdown=result.breakdown,
        placements=placements,
        unscheduled=unscheduled(problem, placements, findings),
        prechecks=notes,
        weights=weights,
        policy=policy,
        stats=stats,
    )


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


class _Callback(cp.CpSolverSolutionCallback):
    def __init__(self, mv: ModelVars, t0: float, report: ProgressFn) -> None:
        super().__init__()
        self.t0, self.report = t0, report
        self.first_s: float | None = None
        self._lock = threading.Lock()

    def on_solution_callback(self) -> None:
        with self._lock:
            elapsed = time.monotonic() - self.t0
            if self.first_s is None:
                self.first_s = round(elapsed, 3)
            obj, bound = int(self.objective_value), int(self.best_objective_bound)
            self.report(Progress(elapsed, "search", obj, bound, gap_of(obj, bound)))


def add_hints(mv: ModelVars, placements: tuple[Placement, ...] | list[Placement]) -> None:
    """Start CP-SAT from a schedule (the construction, or the version being repaired)."""
    grid, m = mv.grid, mv.model
    by_course: dict[str, list[Placement]] = {}
    for pl in placements:
        by_course.setdefault(pl.course, []).append(pl)
    for course_id, cv in mv.courses.items():
        pls = sorted(by_course.get(course_id, []), key=lambda p: p.session)
        if len(pls) != len(cv.sessions):
            continue
        m.add_hint(cv.present, 1)
        for sv, pl in zip(cv.sessions, pls, strict=True):
            day = grid.day_index(pl.day)
            if day is None:
                continue
            slot = grid.slot(day, pl.period)
            if cv.block_start is not None and sv.index == 0:
                m.add_hint(cv.block_start, slot)
            elif isinstance(sv.start, cp.IntVar):
                m.add_hint(sv.start, slot)
            if cv.block_start is None or sv.index == 0:
                for site_id, lit in sv.sites.items():
                    m.add_hint(lit, int(site_id == pl.site))
            for trainer_id, lit in sv.trainers.items():
                m.add_hint(lit, int(trainer_id == pl.trainer))


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
) -> Solution:
    if not conflicts:
        found = conflicting_rules(problem, grid, weights, policy)
        conflicts = (
            found
            if found is not None
            else [
                "the hard rules hold one by one, but there are not enough sites, trainers or "
                "cohort time to hold every required course together"
            ]
        )
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
