"""The scale benchmark's cost-growth curve."""

from __future__ import annotations

import pytest

from benchmarks.scale import growth


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
