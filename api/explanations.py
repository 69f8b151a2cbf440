"""Why a schedule costs what it costs: the checker's costs grouped by session, course and plan,
why each course left out is out, and the conflicting rules of an infeasible plan (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from solver.checker import check
from solver.problem import DayRef, Placement, Problem, Weights
from solver.solution import CheckResult, RepairPolicy, Unscheduled, Violation

UNSOLVED = ("infeasible", "unknown", "invalid", "failed", "running")


class PaidCost(BaseModel):
    term: str
    cost: int
    message: str
    courses: list[str] = Field(
        default_factory=list,
        description="For a cost of no one course (load peak, density, trainer load): the "
        "courses whose sessions make it, the ones to move to lower it.",
    )


class SessionCosts(BaseModel):
    """The soft terms one session pays (perturbation: the published session it replaced)."""

    course: str
    session: int
    uid: str | None = Field(default=None, description="The published session's calendar UID.")
    day: DayRef | None = None
    period: int | None = None
    site: str | None = None
    trainer: str | None = None
    cost: int
    costs: list[PaidCost]


class CourseCosts(BaseModel):
    """Soft terms a course pays as a whole (stability, min_days, unscheduled)."""

    course: str
    cost: int
    costs: list[PaidCost]


class UnscheduledCourse(BaseModel):
    course: str
    title: str
    reason: str


class Explanation(BaseModel):
    """A schedule's score, term by term and session by session, and what it could not do."""

    status: str | None
    objective: int | None
    bound: int | None
    breakdown: dict[str, int]
    plan_costs: list[PaidCost] = Field(description="Costs of no one course: density, peaks, load.")
    courses: list[CourseCosts]
    sessions: list[SessionCosts] = Field(description="Sessions paying anything, costliest first.")
    unscheduled: list[UnscheduledCourse]
    violations: list[Violation] = Field(description="Hard rules broken (none in a solved run).")
    conflicts: list[str] = Field(description="When infeasible: the rules that cannot all hold.")
    prechecks: list[str]


def explain_schedule(
    problem: Problem,
    placements: Sequence[Placement],
    weights: Weights,
    policy: RepairPolicy,
    *,
    status: str | None = None,
    bound: int | None = None,
    uids: Mapping[tuple[str, int], str] | None = None,
    unscheduled: Sequence[Unscheduled] = (),
    conflicts: Sequence[str] = (),
    prechecks: Sequence[str] = (),
) -> Explanation:
    """Recompute the schedule's costs with the checker (the rules' spec) and group them; a
    run that found no schedule has only its conflicts and pre-checks to show."""
    solved = status is None or status not in UNSOLVED
    result = (
        check(problem, placements, weights, policy)
        if solved
        else CheckResult(violations=[], breakdown={}, objective=0, costs=[])
    )
    where = {(p.course, p.session): p for p in placements}
    per_session: dict[tuple[str, int], list[PaidCost]] = defaultdict(list)
    per_course: dict[str, list[PaidCost]] = defaultdict(list)
    plan_costs: list[PaidCost] = []
    for c in result.costs:
        paid = PaidCost(term=c.term, cost=c.cost, message=c.message, courses=c.courses)
        if c.course is not None and c.session is not None:
            per_session[(c.course, c.session)].append(paid)
        elif c.course is not None:
            per_course[c.course].append(paid)
        else:
            plan_costs.append(paid)
    sessions = []
    for (course, number), costs in per_session.items():
        p = where.get((course, number))
        sessions.append(
            SessionCosts(
                course=course,
                session=number,
                uid=(uids or {}).get((course, number)),
                day=p.day if p else None,
                period=p.period if p else None,
                site=p.site if p else None,
                trainer=p.trainer if p else None,
                cost=sum(x.cost for x in costs),
                costs=costs,
            )
        )
    sessions.sort(key=lambda s: (-s.cost, s.course, s.session))
    titles = {c.id: c.name or c.id for c in problem.courses}
    return Explanation(
        status=status,
        objective=result.objective if solved else None,
        bound=bound,
        breakdown=result.breakdown,
        plan_costs=sorted(plan_costs, key=lambda x: -x.cost),
        courses=[
            CourseCosts(course=k, cost=sum(x.cost for x in v), costs=v)
            for k, v in sorted(per_course.items(), key=lambda kv: -sum(x.cost for x in kv[1]))
        ],
        sessions=sessions,
        unscheduled=[
            UnscheduledCourse(
                course=u.course, title=titles.get(u.course, u.course), reason=u.reason
            )
            for u in unscheduled
        ],
        violations=result.violations,
        conflicts=list(conflicts),
        prechecks=list(prechecks),
    )
