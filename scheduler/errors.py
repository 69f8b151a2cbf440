"""The errors scheduler functions raise for callers to translate (the API: 404, 409, 422)."""

from __future__ import annotations


class NotFound(LookupError):
    """No such plan, entity, run, version, token or key."""


class Conflict(ValueError):
    """The request contradicts the current state (e.g. publishing a what-if run)."""


class InvalidPlan(ValueError):
    """A change would leave the plan inconsistent; `errors` lists every problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
