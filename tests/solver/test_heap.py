"""The collector kept off a solve's data: holds nest, a caller's own freeze is left to the
caller, and the collector's state is always given back."""

from __future__ import annotations

import gc

import pytest

from config.defaults import WEIGHTS
from solver.heap import collector_paused, heap_held, hold_heap, release_heap
from solver.params import SolveParams
from solver.problem import Weights
from solver.solve import solve
from tests.solver.factories import make_course, make_problem


@pytest.fixture(autouse=True)
def _thawed() -> None:
    gc.unfreeze()


def test_holds_nest_and_the_outermost_release_thaws() -> None:
    outer = hold_heap()
    assert outer and gc.get_freeze_count() > 0
    inner = hold_heap()
    release_heap(inner)
    assert gc.get_freeze_count() > 0  # still held by the outer scope
    release_heap(outer)
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_by_the_caller_stays_frozen() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    with heap_held():
        pass
    assert gc.get_freeze_count() >= frozen > 0
    gc.unfreeze()


def test_a_solve_gives_the_heap_back() -> None:
    problem = make_problem(courses=[make_course(sessions=2)])
    weights = Weights.resolve(WEIGHTS, problem.weights)
    solution = solve(problem, weights, SolveParams(time_limit=2.0, workers=1))
    assert solution.status in ("optimal", "feasible")
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_collector_paused_restores_its_state_even_on_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_pauses_in_two_threads_leave_the_collector_on() -> None:
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first pass ends while the second still runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
