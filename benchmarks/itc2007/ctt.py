"""The ITC-2007 `.ctt` format: reading instances, mapping them onto our Problem, writing solutions.

Also runs the official validator, which scores a written solution independently of our code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from solver.problem import (
    SOFT_TERMS,
    Blackout,
    Calendar,
    Cohort,
    Course,
    Placement,
    Problem,
    Site,
    Trainer,
    Unit,
    Window,
)

# UD2, the ITC-2007 objective, expressed in our soft terms; every other term costs nothing.
UD2_WEIGHTS: dict[str, int] = {
    **dict.fromkeys(SOFT_TERMS, 0),
    "capacity_overflow": 1,
    "min_days": 5,
    "compactness": 2,
    "stability": 1,
}
# The validator's name for each UD2 cost, and the soft term of ours that charges it.
UD2_TERMS: dict[str, str] = {
    "RoomCapacity": "capacity_overflow",
    "MinWorkingDays": "min_days",
    "CurriculumCompactness": "compactness",
    "RoomStability": "stability",
}
CURRICULA_UNIT = "curricula"


@dataclass(frozen=True)
class CttCourse:
    id: str
    teacher: str
    lectures: int
    min_days: int
    students: int


@dataclass(frozen=True)
class Room:
    id: str
    capacity: int


@dataclass(frozen=True)
class Curriculum:
    id: str
    courses: tuple[str, ...]


@dataclass(frozen=True)
class Unavailability:
    """A period (day, timeslot) in which a course may not be taught."""

    course: str
    day: int
    period: int


@dataclass(frozen=True)
class Instance:
    name: str
    courses: tuple[CttCourse, ...]
    rooms: tuple[Room, ...]
    curricula: tuple[Curriculum, ...]
    unavailability: tuple[Unavailability, ...]
    days: int
    periods_per_day: int

    @property
    def lectures(self) -> int:
        return sum(c.lectures for c in self.courses)


def read_ctt(path: Path | str) -> Instance:
    """Parse a `.ctt` file: `Key: value` header lines, then four sections, then `END.`."""
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    section: str | None = None
    for raw in Path(path).read_text().splitlines():
        tokens = raw.split()
        if not tokens:
            continue
        if tokens[0] == "END.":
            break
        if len(tokens) == 1 and tokens[0].endswith(":"):
            section = tokens[0][:-1].upper()
            sections[section] = []
        elif section is None:
            header[tokens[0].rstrip(":").lower()] = " ".join(tokens[1:])
        else:
            sections[section].append(tokens)
    return Instance(
        name=header.get("name", Path(path).stem),
        courses=tuple(
            CttCourse(t[0], t[1], int(t[2]), int(t[3]), int(t[4]))
            for t in sections.get("COURSES", [])
        ),
        rooms=tuple(Room(t[0], int(t[1])) for t in sections.get("ROOMS", [])),
        curricula=tuple(
            Curriculum(t[0], tuple(t[2 : 2 + int(t[1])])) for t in sections.get("CURRICULA", [])
        ),
        unavailability=tuple(
            Unavailability(t[0], int(t[1]), int(t[2]))
            for t in sections.get("UNAVAILABILITY_CONSTRAINTS", [])
        ),
        days=int(header["days"]),
        periods_per_day=int(header["periods_per_day"]),
    )


def _cohorts_of(instance: Instance) -> dict[str, list[str]]:
    """The curricula each course belongs to, each once, in file order."""
    cohorts: dict[str, list[str]] = {c.id: [] for c in instance.courses}
    for curriculum in instance.curricula:
        for course in dict.fromkeys(curriculum.courses):
            if curriculum.id not in cohorts.setdefault(course, []):
                cohorts[course].append(curriculum.id)
    return cohorts


def _spread_course(course: CttCourse, cohorts: list[str]) -> Course:
    """A lecture course as a spread course.

    A minimum above the lecture count cannot be met and our model rejects it, so it is capped;
    the validator then charges a constant our objective does not (no published instance does it).
    """
    return Course(
        id=course.id,
        sessions=course.lectures,
        length=1,
        pattern="spread",
        min_days=min(course.min_days, course.lectures),
        trainer=course.teacher,
        cohorts=cohorts,
        attendance=course.students,
    )


def to_problem(instance: Instance) -> Problem:
    """The instance in our model, scored so that our objective equals UD2.

    Curricula become cohorts of size 0 in one unit: they only forbid overlaps and drive
    compactness; the room load is each course's own student count.
    """
    cohorts = _cohorts_of(instance)
    return Problem(
        name=instance.name,
        calendar=Calendar(days=instance.days, periods_per_day=instance.periods_per_day),
        sites=[Site(id=r.id, capacity=r.capacity, capacity_hard=False) for r in instance.rooms],
        trainers=[Trainer(id=t) for t in dict.fromkeys(c.teacher for c in instance.courses)],
        units=[Unit(id=CURRICULA_UNIT, headcount=0)],
        cohorts=[Cohort(id=q.id, unit=CURRICULA_UNIT, size=0) for q in instance.curricula],
        courses=[_spread_course(c, cohorts[c.id]) for c in instance.courses],
        blackouts=[
            Blackout(
                scope="course",
                target=u.course,
                window=Window(first=u.day, last=u.day, periods=[u.period]),
                reason="unavailable",
            )
            for u in instance.unavailability
        ],
        weights=dict(UD2_WEIGHTS),
    )


def write_solution(instance: Instance, placements: Iterable[Placement]) -> str:
    """The official solution text: `CourseID RoomID Day Period`, one lecture a line.

    Lines follow the instance's course order so that files diff cleanly between runs.
    """
    order = {c.id: i for i, c in enumerate(instance.courses)}
    ordered = sorted(placements, key=lambda p: (order.get(p.course, len(order)), p.session))
    return "".join(f"{p.course} {p.site} {p.day} {p.period}\n" for p in ordered)


@dataclass(frozen=True)
class ValidatorScore:
    """What the official validator says of a solution file: totals and counts by constraint."""

    hard: int
    soft: int
    violations: dict[str, int]  # e.g. "Conflicts"
    costs: dict[str, int]  # e.g. "RoomCapacity"


def run_validator(validator: Path, instance_path: Path, solution_path: Path) -> ValidatorScore:
    """Score a solution with the official validator, in its own process as a judge should be."""
    done = subprocess.run(
        [sys.executable, str(validator), str(instance_path), str(solution_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode not in (0, 1) or not lines or not lines[-1].startswith("hard="):
        raise RuntimeError(f"validator failed ({done.returncode}): {done.stderr.strip()}")
    totals = dict(item.split("=") for item in lines[-1].split())
    return ValidatorScore(
        hard=int(totals["hard"]),
        soft=int(totals["soft"]),
        violations=_counts(lines, "Violations of ", " (hard)"),
        costs=_counts(lines, "Cost of ", " (soft)"),
    )


def _counts(lines: list[str], prefix: str, suffix: str) -> dict[str, int]:
    """`Cost of RoomCapacity (soft) : 12` lines as {"RoomCapacity": 12}."""
    counts = {}
    for line in lines:
        label, _, value = line.partition(" : ")
        if label.startswith(prefix) and label.endswith(suffix):
            counts[label[len(prefix) : -len(suffix)]] = int(value)
    return counts
