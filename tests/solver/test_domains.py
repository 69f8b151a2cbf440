"""Course domains: the shortcuts (a block's starts from its days, a single start asked of a
course's restrictions) give what building the sets gives."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from solver.domains import DomainBuilder, intersect
from solver.grid import TimeGrid
from solver.problem import Problem
from tests.solver.strategies import problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_block_starts_and_single_start_questions_match_the_built_sets(problem: Problem) -> None:
    grid = TimeGrid.of(problem.calendar)
    builder = DomainBuilder(problem, grid)
    for course in problem.courses:
        dom = builder.course_domains(course)
        assert dom.base == builder.for_block(course, builder.working_starts(course.length))
        for r in dom.time:
            if r.key.startswith("window:"):  # starts whose every day is inside the window
                lo = 0 if course.earliest is None else grid.first_day_from(course.earliest)
                hi = (
                    grid.n_days - 1 if course.latest is None else grid.last_day_until(course.latest)
                )
                days = builder.days_starts(lo, hi, course.length)
                assert r.allowed == builder.for_block(course, days)
        for site in [*dom.sites, "no-such-site"]:
            allowed = dom.site_starts(site) if site in dom.sites else frozenset()
            for start in range(grid.n_slots):
                assert dom.site_allows(site, start) == (start in allowed)
        for trainer in [*dom.trainers, "no-such-trainer"]:
            restrictions = dom.trainers.get(trainer)
            for start in range(grid.n_slots):
                expected = restrictions is not None and start in intersect(
                    frozenset(range(grid.n_slots)), restrictions
                )
                assert dom.trainer_allows(trainer, start) == expected
