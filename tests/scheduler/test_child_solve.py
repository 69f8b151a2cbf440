"""A solve in a child process gives the schedule the in-process solve gives."""

from __future__ import annotations

from scheduler.runs import RunInput, solve_run, solve_run_in_child
from solver.params import SolveParams
from solver.solution import RepairPolicy
from tests.solver.factories import default_weights, make_problem


def test_child_process_solve_matches_in_process() -> None:
    run = RunInput(
        1, make_problem(), default_weights(), SolveParams(workers=1, time_limit=2), RepairPolicy()
    )
    here, there = solve_run(run), solve_run_in_child(run)
    assert there.status == here.status == "optimal"
    assert there.placements == here.placements


def test_a_child_process_solve_stops_when_asked() -> None:
    run = RunInput(
        1, make_problem(), default_weights(), SolveParams(workers=1, time_limit=60), RepairPolicy()
    )
    stopped = solve_run_in_child(run, stop=lambda: True)
    assert stopped.status == "unknown" and stopped.prechecks == ["stopped on request"]
