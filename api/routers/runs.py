"""Runs: what each solve did (audited), its schedule, what publishing it would change, why it
costs what it costs, and asking for an exact rerun."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.conditional import Representation, conditional_response
from api.dependencies import NowDep, PlanDep, PrincipalDep, RunDep, SessionDep, WiringDep
from api.errors import NOT_MODIFIED, error_responses
from api.explanations import Explanation, explain_schedule
from api.schemas import RunOut, SolveRequestOut
from scheduler import runs
from scheduler.errors import Conflict
from scheduler.tables import SolveRun
from scheduler.versions import VersionDiff
from solver.solution import Solution

router = APIRouter(tags=["solving"], responses=error_responses(401, 403, 404, 422))


@router.get("/plans/{plan_id}/runs", summary="The plan's runs, newest first")
def list_runs(
    plan: PlanDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> list[RunOut]:
    return [RunOut.of(r) for r in runs.list_runs(session, plan.id, limit=limit)]


@router.get("/runs/{run_id}", summary="A run: input hash, parameters, result, outcome")
def read_run(run: RunDep) -> RunOut:
    return RunOut.of(run)


@router.get(
    "/runs/{run_id}/solution",
    summary="A run's schedule in the solver's format",
    responses=error_responses(409),
)
def read_solution(run: RunDep) -> Solution:
    if run.solution is None:
        raise Conflict(f"run {run.id} has no result yet ({run.status})")
    return Solution.model_validate(run.solution)


@router.get(
    "/runs/{run_id}/preview",
    summary="What publishing the run would change",
    responses=error_responses(409),
)
def preview_run(run: RunDep, session: SessionDep) -> VersionDiff:
    """Each session added, moved or cancelled against the published version, and why."""
    return runs.preview_run(session, run.id)


@router.get(
    "/runs/{run_id}/explanation",
    response_model=Explanation,
    responses=NOT_MODIFIED | error_responses(409),
    summary="Why the run's schedule costs what it costs, or why there is none",
)
def explain_run(run: RunDep, request: Request, wiring: WiringDep) -> Response:
    """The score by term and session; the courses left out and why; when no schedule was
    found, the pre-checks and the rules that cannot hold together."""
    if run.finished_at is None:
        raise Conflict(f"run {run.id} is still {run.status}")
    finished = run.finished_at

    def render() -> Representation:
        body = run_explanation(run).model_dump_json().encode()
        return Representation.of(body, "application/json", finished)

    rep = wiring.representations.get_or_make(("run-explanation", run.id), render)
    return conditional_response(request, rep)


def run_explanation(run: SolveRun) -> Explanation:
    """A finished run explained with the very input it solved."""
    problem, weights, _, policy = runs.recorded_input(run)
    solution = Solution.model_validate(run.solution) if run.solution else Solution(status="unknown")
    return explain_schedule(
        problem,
        solution.placements,
        weights,
        policy,
        status=run.status,
        bound=run.bound,
        unscheduled=solution.unscheduled,
        conflicts=solution.conflicts,
        prechecks=solution.prechecks,
    )


@router.post("/runs/{run_id}/rerun", status_code=202, summary="Solve a run's input again")
def rerun(
    run: RunDep, response: Response, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> SolveRequestOut:
    """Same recorded input and seed with one worker: a what-if that reproduces the run."""
    found = runs.request_rerun(session, run.id, now=now, requested_by=principal.actor)
    response.headers["Location"] = f"/solve-requests/{found.id}"
    return SolveRequestOut.of(found, None)
