"""Reading problem and schedule files, with every error reported at once by path."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from solver.problem import Problem, reference_errors
from solver.solution import Solution

# Union members and validators appear in pydantic's error locations; people don't need them.
_TAG = re.compile(r"^(int|date|str|float|bool|none|function-\w+\[.*\]|.*\[.*\])$")


class InvalidFile(ValueError):
    """A file that cannot be used, with one `path: problem` line per error."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def error_path(loc: tuple[int | str, ...]) -> str:
    """('courses', 12, 'trainer') -> 'courses[12].trainer'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _TAG.match(part):
            out += f".{part}" if out else part
    return out or "(file)"


def validation_errors(exc: ValidationError) -> list[str]:
    seen: dict[str, str] = {}
    for err in exc.errors():
        path = error_path(tuple(err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        seen.setdefault(path, message)
    return [f"{path}: {msg}" for path, msg in seen.items()]


def parse_problem(data: str | bytes | dict[str, Any]) -> Problem:
    """A valid problem, or InvalidFile listing every error (fields, then references)."""
    try:
        raw = json.loads(data) if isinstance(data, (str, bytes)) else data
    except json.JSONDecodeError as exc:
        raise InvalidFile([f"(file): not JSON ({exc.msg} at line {exc.lineno})"]) from None
    try:
        problem = Problem.model_validate(raw)
    except ValidationError as exc:
        raise InvalidFile(validation_errors(exc)) from None
    errors = reference_errors(problem)
    if errors:
        raise InvalidFile(errors)
    return problem


def parse_solution(data: str | bytes) -> Solution:
    try:
        return Solution.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidFile(validation_errors(exc)) from None
