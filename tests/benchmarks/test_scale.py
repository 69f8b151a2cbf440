"""The scale benchmark: its cost-growth curve and what its repairs move."""

from __future__ import annotations

import pytest

from benchmarks.scale import _repair, growth


def test_growth_is_the_cost_per_course_against_the_first_scale() -> None:
    rows = [
        {"scale": "S", "courses": 250, "objective": 1500},
        {"scale": "S", "courses": 250, "objective": 2500},
        {"scale": "M", "courses": 2500, "objective": 30000},
        {"scale": "M", "seed": 2, "status": "timed out"},  # no schedule: left out
    ]
    s, m = growth(rows)
    assert (s["scale"], s["runs"], s["objective"], s["per_course"]) == ("S", 2, 2000, 8.0)
    assert (m["scale"], m["runs"], m["per_course"]) == ("M", 1, 12.0)
    assert s["vs_first"] == 1.0 and m["vs_first"] == pytest.approx(1.5)


def test_a_repair_at_scale_moves_nothing_of_the_courses_it_need_not_touch() -> None:
    from config import defaults
    from solver.problem import Weights
    from solver.scenarios import generate
    from solver.solution import Solution

    scenario = generate("S", 1)
    weights = Weights.resolve(defaults.WEIGHTS, scenario.problem.weights)
    planted = Solution(status="feasible", placements=list(scenario.witness), weights=weights)
    row = _repair(scenario.problem, weights, planted, workers=1, seed=1)
    assert row["repair_status"] in ("feasible", "optimal")
    assert row["had_to_move"] > 0
    assert row["moved"] >= row["had_to_move"]
    assert row["moved_elsewhere"] == 0
