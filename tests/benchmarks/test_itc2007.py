"""ITC-2007 instances: they load into our model, and our checker scores schedules as the official
validator does (so that a benchmark cost of ours is a UD2 cost)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks.itc2007 import data_dir
from benchmarks.itc2007.ctt import (
    UD2_TERMS,
    UD2_WEIGHTS,
    Instance,
    ValidatorScore,
    read_ctt,
    run_validator,
    to_problem,
    write_solution,
)
from config.defaults import WEIGHTS
from solver.checker import check
from solver.params import SolveParams
from solver.problem import Placement, Weights, reference_errors
from solver.solution import CheckResult, RepairPolicy

DATA = data_dir()
pytestmark = pytest.mark.skipif(
    not (DATA / "validate_ctt.py").exists(), reason=f"ITC-2007 data not found in {DATA}"
)

# From SOURCE.md: courses, lectures, rooms, days, periods a day, curricula, unavailabilities.
SIZES = {
    "comp01": (30, 160, 6, 5, 6, 14, 53),
    "comp02": (82, 283, 16, 5, 5, 70, 513),
    "comp03": (72, 251, 16, 5, 5, 68, 382),
    "comp04": (79, 286, 18, 5, 5, 57, 396),
    "comp05": (54, 152, 9, 6, 6, 139, 771),
    "comp06": (108, 361, 18, 5, 5, 70, 632),
    "comp07": (131, 434, 20, 5, 5, 77, 667),
}
INSTANCES = sorted(SIZES)


def ctt_path(name: str) -> Path:
    return DATA / f"{name}.ctt"


def validate(
    name: str, instance: Instance, placements: list[Placement], tmp_path: Path
) -> ValidatorScore:
    solution = tmp_path / f"{name}.sol"
    solution.write_text(write_solution(instance, placements))
    return run_validator(DATA / "validate_ctt.py", ctt_path(name), solution)


def ud2_check(instance: Instance, placements: list[Placement]) -> CheckResult:
    problem = to_problem(instance)
    weights = Weights.resolve(WEIGHTS, problem.weights)
    return check(problem, placements, weights, RepairPolicy())


def greedy_schedule(instance: Instance, rng: random.Random) -> list[Placement]:
    """Most constrained lecture first, each at a random clash-free (day, period, room).

    Built without the solver, so the checker and the validator judge a schedule that neither
    the model nor its author tuned; random rooms and periods make every UD2 cost show up.
    A lecture with no clash-free place goes anywhere (a clash both sides must see).
    """
    tags: dict[str, set[str]] = {
        c.id: {"course " + c.id, "teacher " + c.teacher} for c in instance.courses
    }
    for q in instance.curricula:
        for c in q.courses:
            tags[c].add("curriculum " + q.id)
    unavailable = {(u.course, u.day, u.period) for u in instance.unavailability}
    slots = [(d, p) for d in range(instance.days) for p in range(instance.periods_per_day)]
    busy: dict[tuple[int, int], set[str]] = {slot: set() for slot in slots}
    free_rooms = {slot: [r.id for r in instance.rooms] for slot in slots}
    left = {c.id: c.lectures for c in instance.courses}
    done = {c.id: 0 for c in instance.courses}
    teacher = {c.id: c.teacher for c in instance.courses}

    def options(course: str) -> list[tuple[int, int]]:
        return [
            (d, p)
            for d, p in slots
            if free_rooms[(d, p)]
            and (course, d, p) not in unavailable
            and not tags[course] & busy[(d, p)]
        ]

    def blocks(course: str, other: str, slot: tuple[int, int]) -> bool:
        """Placing `course` at `slot` takes that slot from `other` (least-constraining value)."""
        return bool(tags[course] & tags[other]) and (other, *slot) not in unavailable

    placements = []
    while left:
        course = min(left, key=lambda c: (len(options(c)) - left[c], rng.random()))
        slot = min(
            options(course) or slots,
            key=lambda slot: (
                sum(1 for c in left if c != course and blocks(course, c, slot)),
                rng.random(),
            ),
        )
        rooms = free_rooms[slot] or [r.id for r in instance.rooms]
        room = rooms.pop(rng.randrange(len(rooms)))
        busy[slot] |= tags[course]
        placements.append(
            Placement(
                course=course,
                session=done[course],
                day=slot[0],
                period=slot[1],
                site=room,
                trainer=teacher[course],
            )
        )
        done[course] += 1
        left[course] -= 1
        if not left[course]:
            del left[course]
    return placements


def random_schedule(instance: Instance, rng: random.Random) -> list[Placement]:
    """Every lecture anywhere: clashes almost surely."""
    return [
        Placement(
            course=c.id,
            session=s,
            day=rng.randrange(instance.days),
            period=rng.randrange(instance.periods_per_day),
            site=rng.choice(instance.rooms).id,
            trainer=c.teacher,
        )
        for c in instance.courses
        for s in range(c.lectures)
    ]


@pytest.mark.parametrize("name", INSTANCES)
def test_instance_converts_with_the_published_sizes(name: str) -> None:
    instance = read_ctt(ctt_path(name))
    problem = to_problem(instance)
    courses, lectures, rooms, days, ppd, curricula, unavailable = SIZES[name]

    assert reference_errors(problem) == []
    assert len(problem.courses) == courses
    assert sum(c.sessions for c in problem.courses) == lectures
    assert len(problem.sites) == rooms
    assert (problem.calendar.days, problem.calendar.periods_per_day) == (days, ppd)
    assert len(problem.cohorts) == curricula
    assert len(problem.blackouts) == unavailable
    assert all(b.hard and b.scope == "course" for b in problem.blackouts)


def test_courses_attend_as_their_curricula() -> None:
    instance = read_ctt(ctt_path("comp01"))
    problem = to_problem(instance)
    for course in instance.courses:
        member_of = {q.id for q in instance.curricula if course.id in q.courses}
        converted = problem.course(course.id)
        assert set(converted.cohorts) == member_of
        assert problem.attendance(converted) == course.students
        assert problem.qualified_trainers(converted) == [course.teacher]
    assert Weights.resolve(WEIGHTS, problem.weights).model_dump() == UD2_WEIGHTS


@pytest.mark.parametrize("name", INSTANCES)
def test_checker_scores_a_greedy_schedule_as_the_validator(name: str, tmp_path: Path) -> None:
    instance = read_ctt(ctt_path(name))
    placements = greedy_schedule(instance, random.Random(name))

    score = validate(name, instance, placements, tmp_path)
    result = ud2_check(instance, placements)

    assert score.hard == 0, f"the greedy should find a clash-free schedule: {score.violations}"
    assert result.violations == []
    assert {ours: result.breakdown[ours] for ours in UD2_TERMS.values()} == {
        ours: score.costs[theirs] for theirs, ours in UD2_TERMS.items()
    }
    assert result.objective == score.soft


@pytest.mark.parametrize("name", INSTANCES)
def test_checker_and_validator_both_see_a_lecture_in_an_unavailable_period(
    name: str, tmp_path: Path
) -> None:
    instance = read_ctt(ctt_path(name))
    placements = greedy_schedule(instance, random.Random(name))
    banned = instance.unavailability[0]
    i = next(i for i, pl in enumerate(placements) if pl.course == banned.course)
    placements[i] = placements[i].model_copy(update={"day": banned.day, "period": banned.period})

    score = validate(name, instance, placements, tmp_path)
    result = ud2_check(instance, placements)

    assert score.violations["Availability"] == 1
    assert [v.rule for v in result.violations].count("hard_blackout") == 1


@pytest.mark.parametrize("name", INSTANCES)
def test_checker_and_validator_both_reject_a_random_schedule(name: str, tmp_path: Path) -> None:
    instance = read_ctt(ctt_path(name))
    placements = random_schedule(instance, random.Random(name))

    score = validate(name, instance, placements, tmp_path)
    result = ud2_check(instance, placements)

    assert score.hard > 0
    assert not result.feasible


@pytest.mark.slow
def test_solver_schedule_passes_the_validator_at_its_own_cost(tmp_path: Path) -> None:
    from solver.solve import solve  # the lead's module; only this test needs it

    instance = read_ctt(ctt_path("comp01"))
    problem = to_problem(instance)
    weights = Weights.resolve(WEIGHTS, problem.weights)
    params = SolveParams(time_limit=10, workers=2, seed=1)

    solution = solve(problem, weights, params, policy=RepairPolicy(), progress=None)
    score = validate("comp01", instance, solution.placements, tmp_path)

    assert solution.status in ("optimal", "feasible")
    assert score.hard == 0
    assert solution.objective == score.soft
    assert ud2_check(instance, solution.placements).objective == score.soft


@pytest.mark.slow
def test_both_annealings_answer_and_the_schedule_passes_the_validator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two workers a second annealing runs on the other core; its answer is taken when
    better, and the schedule still passes the validator at our cost."""
    import solver.solve as solve_module

    monkeypatch.setattr(solve_module, "ANNEAL_MIN_MOVES", 0)  # anneal at any rate
    instance = read_ctt(ctt_path("comp01"))
    problem = to_problem(instance)
    weights = Weights.resolve(WEIGHTS, problem.weights)
    params = SolveParams(time_limit=5, workers=2, seed=1)

    solution = solve_module.solve(problem, weights, params, policy=RepairPolicy())
    score = validate("comp01", instance, solution.placements, tmp_path)

    assert solution.stats["anneal_moves"] > 0
    assert solution.stats["anneal_twin"] >= 0  # its best cost: it ran and answered
    assert score.hard == 0
    assert solution.objective == score.soft <= solution.stats["anneal_twin"]


def test_construction_rounds_place_every_lecture_of_comp05(tmp_path: Path) -> None:
    """comp05's first greedy pass leaves a course out; the rounds a 60 s solve allows place
    every lecture, and the validator finds no clash."""
    from solver.construct import construct
    from solver.grid import TimeGrid
    from solver.solve import construction_rounds

    instance = read_ctt(ctt_path("comp05"))
    problem = to_problem(instance)
    weights = Weights.resolve(WEIGHTS, problem.weights)
    grid = TimeGrid.of(problem.calendar)

    assert construct(problem, grid, weights).unplaced != ()
    made = construct(problem, grid, weights, rounds=construction_rounds(len(problem.courses), 60))

    assert made.unplaced == ()
    assert validate("comp05", instance, list(made.placements), tmp_path).hard == 0
