"""Property tests: on generated small plans, every schedule the solver returns passes the
independent checker, and the solver's score is the checker's score."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from solver.checker import check
from solver.params import SolveParams
from solver.problem import Problem
from solver.solution import RepairPolicy
from solver.solve import solve
from tests.solver.factories import default_weights
from tests.solver.strategies import problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_solution_passes_the_checker_with_the_same_score(problem: Problem) -> None:
    weights = default_weights()
    solution = solve(problem, weights, SolveParams(time_limit=3, workers=1, seed=0))
    assert solution.status in ("optimal", "feasible", "infeasible")
    if solution.status == "infeasible":
        assert solution.conflicts, "an infeasible answer names its conflicting rules"
        return
    result = check(problem, solution.placements, weights, RepairPolicy())
    assert result.violations == []
    assert result.objective == solution.objective
    assert solution.bound is not None and solution.bound <= solution.objective
    if solution.status == "optimal":
        assert solution.stats["model_objective"] == result.objective, problem.model_dump_json()
