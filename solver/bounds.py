"""Lower bounds the product computes itself, so that the reported gap means something even
when CP-SAT's own bound is weak: costs no schedule can avoid, term by term.

Terms are independent sums, so the sum of per-term bounds is a bound on the objective.
"""

from __future__ import annotations

import math

from solver.domains import DomainBuilder
from solver.grid import TimeGrid
from solver.problem import Problem, Weights
from solver.solution import RepairPolicy


def lower_bound(
    problem: Problem,
    grid: TimeGrid,
    weights: Weights,
    policy: RepairPolicy,
    builder: DomainBuilder | None = None,
) -> int:
    """The sum of the bounds below (all of them valid for every schedule)."""
    builder = builder or DomainBuilder(problem, grid)
    return (
        unavoidable_session_costs(problem, builder, weights)
        + load_peak_bound(problem, builder, weights)
        + min_days_bound(problem, builder, weights)
        + density_bound(problem, weights)
        + compactness_bound(problem, builder, weights)
    )


def unavoidable_session_costs(problem: Problem, builder: DomainBuilder, weights: Weights) -> int:
    """Per session of a required course: the cheapest of its options in time-scoped soft
    blackouts, soft capacity and preferred sites (a session must pay at least that)."""
    total = 0
    soft = [b for b in problem.blackouts if not b.hard and b.scope not in ("site", "trainer")]
    for course in problem.courses:
        if not course.required:
            continue
        dom = builder.course_domains(course)
        starts = dom.starts()
        if not starts:
            continue
        # Soft blackouts that every start of the course touches cost every session.
        for b in soft:
            if not builder.blackout_applies_in_time(b, course):
                continue
            cost = weights.soft_blackout if b.weight is None else b.weight
            free = builder.starts_avoiding(builder.covered(b.window), course.length)
            if course.pattern == "block":
                step = builder.grid.periods_per_day
                for k in range(course.sessions):
                    if not any(s + k * step in free for s in starts):
                        total += cost
            elif not starts & free:
                total += cost * course.sessions
        attendance = problem.attendance(course)
        cheapest: int | None = None
        for site_id in dom.sites:
            site = problem.site_by_id[site_id]
            if site.capacity_hard and attendance > site.capacity:
                continue
            if not dom.site_starts(site_id):
                continue
            cost = 0
            if not site.capacity_hard:
                cost += weights.capacity_overflow * max(0, attendance - site.capacity)
            if course.preferred_sites and site_id not in course.preferred_sites:
                cost += weights.preferred_site
            cheapest = cost if cheapest is None else min(cheapest, cost)
        total += (cheapest or 0) * course.sessions
    return total


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
    best = 1
    if len(edges_lo) * len(edges_hi) > 40_000:  # keep it cheap on large plans
        edges_lo, edges_hi = (
            edges_lo[:: max(1, len(edges_lo) // 200)],
            edges_hi[:: max(1, len(edges_hi) // 200)],
        )
    for lo in edges_lo:
        inside = sorted((hi, work) for first, hi, work in spans if first >= lo)
        work, j = 0, 0
        for hi in edges_hi:
            if hi < lo:
                continue
            while j < len(inside) and inside[j][0] <= hi:
                work += inside[j][1]
                j += 1
            best = max(best, math.ceil(work / (hi - lo + 1)))
    return weights.load_peak * best


def min_days_bound(problem: Problem, builder: DomainBuilder, weights: Weights) -> int:
    """A spread course whose window has fewer working days than it wants pays the difference."""
    total = 0
    for course in problem.courses:
        if course.required and course.pattern == "spread":
            days = {
                s // builder.grid.periods_per_day for s in builder.course_domains(course).starts()
            }
            if days:
                total += weights.min_days * max(0, course.wanted_days - len(days))
    return total


def density_bound(problem: Problem, weights: Weights) -> int:
    """A unit's peak is at least what its biggest required course takes away at once."""
    total = 0
    for unit in problem.units:
        if unit.away_cap is None:
            continue
        cap = int(unit.away_cap * unit.headcount + 1e-9)
        biggest = 0
        for course in problem.courses:
            if course.required:
                away = sum(
                    problem.cohort_by_id[q].size
                    for q in course.cohorts
                    if problem.cohort_by_id[q].unit == unit.id
                )
                biggest = max(biggest, away)
        total += weights.density * max(0, biggest - cap)
    return total


def compactness_bound(problem: Problem, builder: DomainBuilder, weights: Weights) -> int:
    """A cohort with a single session shorter than a day has nothing to sit beside."""
    ppd = builder.grid.periods_per_day
    short: dict[str, int] = {}
    for course in problem.courses:
        if course.length < ppd:
            for q in course.cohorts:
                short[q] = short.get(q, 0) + (course.sessions if course.required else 2)
    return weights.compactness * sum(1 for n in short.values() if n == 1)
