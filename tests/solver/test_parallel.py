"""Work set aside to a forked child: the answer is the same wherever it was computed, and a
child that fails or is no longer wanted leaves nothing behind."""

from __future__ import annotations

import os
import time

import pytest

import solver.solve
from config.defaults import WEIGHTS
from solver.parallel import Aside
from solver.params import SolveParams
from solver.problem import Weights
from solver.scenarios import generate
from solver.solve import solve

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


def test_a_bound_worked_out_aside_is_the_bound_worked_out_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = generate("S", 1).problem
    weights = Weights.resolve(WEIGHTS, problem.weights)
    params = SolveParams(time_limit=2.0, workers=2, seed=1)
    monkeypatch.setattr(solver.solve, "BOUND_ASIDE_COURSES", 10**9)
    inline = solve(problem, weights, params)
    monkeypatch.setattr(solver.solve, "BOUND_ASIDE_COURSES", 1)
    aside = solve(problem, weights, params)
    assert inline.stats["bound_aside"] is False
    assert aside.stats["bound_aside"] is True
    assert aside.stats["own_bound"] == inline.stats["own_bound"] > 0
