"""Work set aside to a forked child: the answer is the same wherever it was computed, and a
child that fails or is no longer wanted leaves nothing behind."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

import solver.bounds
import solver.solve
from config.defaults import WEIGHTS
from solver.parallel import Aside
from solver.params import SolveParams
from solver.problem import Weights
from solver.scenarios import generate
from solver.solve import Progress, solve
from tests.solver.factories import make_course, make_problem, make_trainer, make_window

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def test_the_answer_comes_from_the_child() -> None:
    aside = Aside(os.getpid, in_child=True)
    assert aside.pid is not None
    assert aside.result() not in (os.getpid(), None)
    assert aside.pid is None  # waited for: no zombie


def test_not_in_a_child_when_not_asked() -> None:
    aside = Aside(os.getpid, in_child=False)
    assert aside.pid is None
    assert aside.result() == os.getpid()


def test_a_failing_child_is_made_up_for_in_the_parent() -> None:
    parent = os.getpid()

    def only_here() -> str:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return "computed here"

    assert Aside(only_here, in_child=True).result() == "computed here"


def test_close_stops_a_child_nobody_waits_for() -> None:
    aside = Aside(lambda: time.sleep(60), in_child=True)
    pid = aside.pid
    assert pid is not None
    started = time.monotonic()
    aside.close()
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped


def test_ready_says_whether_the_answer_is_in_without_waiting() -> None:
    def late() -> str:
        time.sleep(0.5)
        return "late"

    slow = Aside(late, in_child=True)
    assert slow.in_child
    started = time.monotonic()
    assert not slow.ready()
    assert time.monotonic() - started < 0.2  # asking does not wait
    while not slow.ready():
        time.sleep(0.01)
    assert slow.result() == "late"
    here = Aside(lambda: "now", in_child=False)
    assert not here.in_child and here.ready() and here.result() == "now"


def test_the_search_goes_on_while_the_bound_is_worked_out_aside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = generate("S", 1).problem
    weights = Weights.resolve(WEIGHTS, problem.weights)

    def late(*args: Any) -> int:
        time.sleep(1.5)
        return solver.bounds.lower_bound(*args)

    monkeypatch.setattr(solver.solve, "lower_bound", late)
    reports: list[Progress] = []
    params = SolveParams(time_limit=4.0, workers=2, seed=1)
    found = solve(problem, weights, params, progress=reports.append)
    # A city's year: its pre-checks run here, its bound (5-8 s on S) aside.
    assert found.stats["aside"] is False
    assert found.stats["bound_aside"] is True
    phases = [p.phase for p in reports]
    assert "bound" in phases
    before = reports[: phases.index("bound")]
    assert any(p.phase.startswith("searching") for p in before)
    assert all(p.bound is None and p.gap is None for p in before)  # not known yet
    assert reports[phases.index("bound")].bound == found.stats["own_bound"]
    # Reported with the answer, with how long it took and when it came in.
    assert found.stats["bound_s"] >= 1.5
    assert found.stats["bound_in_s"] >= 1.5
    assert found.bound == found.stats["own_bound"] > 0


def test_a_bound_worked_out_aside_is_the_bound_worked_out_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = generate("S", 1).problem
    weights = Weights.resolve(WEIGHTS, problem.weights)
    params = SolveParams(time_limit=2.0, workers=2, seed=1)
    monkeypatch.setattr(solver.solve, "BOUND_ASIDE_SESSIONS", 10**9)
    inline = solve(problem, weights, params)
    monkeypatch.setattr(solver.solve, "BOUND_ASIDE_SESSIONS", 1)
    aside = solve(problem, weights, params)
    assert inline.stats["bound_aside"] is False
    assert aside.stats["bound_aside"] is True
    assert aside.stats["own_bound"] == inline.stats["own_bound"] > 0


def test_pre_checks_aside_end_a_hopeless_plan_as_they_do_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    away = make_trainer(unavailable=[make_window(0, 4, reason="overseas mission")])
    hopeless = make_problem(trainers=[away], courses=[make_course(sessions=1)])
    weights = Weights.resolve(WEIGHTS, hopeless.weights)
    params = SolveParams(time_limit=2.0, workers=2, seed=1)
    inline = solve(hopeless, weights, params)
    monkeypatch.setattr(solver.solve, "ASIDE_COURSES", 1)
    aside = solve(hopeless, weights, params)
    assert aside.stats["aside"] is True and inline.stats["aside"] is False
    assert aside.status == inline.status == "infeasible"
    assert aside.conflicts == inline.conflicts and any("t-1" in c for c in aside.conflicts)
    assert aside.prechecks == inline.prechecks


@pytest.mark.parametrize("cancelled", [True, False])
def test_a_solve_does_not_wait_long_for_a_bound_that_is_not_in(
    monkeypatch: pytest.MonkeyPatch, cancelled: bool
) -> None:
    # Cancelled: not at all. Else a tenth of the limit and a second past it; the answer then
    # has the schedule without the product's own bound.
    problem = generate("S", 1).problem
    weights = Weights.resolve(WEIGHTS, problem.weights)

    def never(*args: Any) -> int:
        time.sleep(60)
        return 10**9

    monkeypatch.setattr(solver.solve, "lower_bound", never)
    monkeypatch.setattr(solver.solve, "ASIDE_COURSES", 1)
    started = time.monotonic()
    stop_at = started + 1.5

    def stop() -> bool:
        return cancelled and time.monotonic() > stop_at

    found = solve(problem, weights, SolveParams(time_limit=3.0, workers=2, seed=1), stop=stop)
    took = time.monotonic() - started
    assert found.status == "feasible" and found.placements
    assert "own_bound" not in found.stats
    assert found.bound == 0
    assert took < (3.0 if cancelled else 3.0 + 0.3 + 1.0 + 1.5)
