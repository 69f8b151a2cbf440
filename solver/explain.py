"""Why a plan cannot be solved: a small set of named rules that cannot all hold.

Every relaxable hard rule is guarded by an assumption literal in the explanation model; CP-SAT
returns a sufficient subset of them, which is then shrunk by trying to drop each rule in turn.
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model as cp

from solver.grid import TimeGrid
from solver.model import BuildOptions, ModelVars, build_model
from solver.problem import Problem, Weights
from solver.solution import RepairPolicy


def conflicting_rules(
    problem: Problem,
    grid: TimeGrid,
    weights: Weights,
    policy: RepairPolicy,
    time_limit: float = 10.0,
    courses: set[str] | None = None,
) -> list[str] | None:
    """Plain-word rules that cannot hold together; None if none were found in time.

    `courses` narrows the question to some courses (those the search could not place and the
    ones they compete with): proving a whole year infeasible under assumptions is far slower
    than proving a handful of courses cannot all fit.
    """
    deadline = time.monotonic() + time_limit
    if courses is not None:
        problem = only_courses(problem, courses)
    mv = build_model(problem, grid, weights, policy, BuildOptions(explain=True))
    mv.model.clear_objective()  # type: ignore[no-untyped-call]
    keys = sorted(mv.assumptions)
    core = _core(mv, keys, max(0.5, deadline - time.monotonic()))
    if core is None:
        return None
    for key in list(core):  # deletion filter: keep only rules that are needed
        if time.monotonic() > deadline - 0.2 or len(core) <= 1:
            break
        trial = [k for k in core if k != key]
        if _core(mv, trial, max(0.2, min(2.0, deadline - time.monotonic()))) is not None:
            core = trial
    return [mv.assumptions[k][1] for k in core] + _facts(problem, core)


def only_courses(problem: Problem, courses: set[str]) -> Problem:
    """The plan with just these courses (and the pins and previous sessions that are theirs)."""
    return problem.model_copy(
        update={
            "courses": [c for c in problem.courses if c.id in courses],
            "pins": [pin for pin in problem.pins if pin.course in courses],
            "previous": None
            if problem.previous is None
            else [pl for pl in problem.previous if pl.course in courses],
        }
    )


def _core(mv: ModelVars, keys: list[str], time_limit: float) -> list[str] | None:
    """A subset of `keys` whose rules are infeasible together, or None if they are not."""
    model = mv.model
    model.clear_assumptions()
    model.add_assumptions([mv.assumptions[k][0] for k in keys])
    solver = cp.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit
    status = solver.solve(model)
    if status != cp.INFEASIBLE:
        return None
    index_to_key = {mv.assumptions[k][0].index: k for k in keys}
    found = [index_to_key[i] for i in solver.sufficient_assumptions_for_infeasibility()]
    return sorted(found) if found else list(keys)


def _facts(problem: Problem, core: list[str]) -> list[str]:
    """Facts that are not rules but explain the conflict, e.g. who can teach a course."""
    facts = []
    courses = {
        k.split(":", 1)[1].split(":")[0] for k in core if k.startswith(("window:", "required:"))
    }
    for course_id in sorted(courses):
        course = problem.course(course_id)
        trainers = problem.qualified_trainers(course)
        if len(trainers) == 1:
            facts.append(f"only {trainers[0]} teaches '{course.name or course.id}'")
        if course.pattern == "block" and course.sessions > 1:
            facts.append(
                f"'{course.name or course.id}' needs {course.sessions} consecutive working days"
            )
    return facts
