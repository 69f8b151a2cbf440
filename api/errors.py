"""Errors as RFC 9457 problem details (`application/problem+json`), each naming the fields at
fault; the one place that turns scheduler, validation and HTTP errors into responses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from api.redaction import redact
from scheduler.errors import Conflict, InvalidPlan, NotFound

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    """One field at fault: where it is (`body.courses[3].trainer`, `query.limit`) and why."""

    field: str
    message: str


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] = Field(default_factory=list)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "type": "urn:offseason:invalid-plan",
                    "title": "The plan would be inconsistent",
                    "status": 422,
                    "detail": 'courses[12].trainer: unknown trainer "t-99"',
                    "errors": [
                        {"field": "courses[12].trainer", "message": 'unknown trainer "t-99"'}
                    ],
                }
            ]
        }
    }


class ApiError(Exception):
    """An error the API raises itself (access refused, nothing published yet, ...)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.errors, self.headers = list(errors), headers


def problem_response(
    status: int,
    detail: str | None,
    *,
    kind: str | None = None,
    title: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ProblemDetails(
        type=f"urn:offseason:{kind}" if kind else "about:blank",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=list(errors),
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def field_path(loc: Sequence[int | str]) -> str:
    """("body", "courses", 3, "trainer") -> "body.courses[3].trainer"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validation_errors(errors: Sequence[Any], prefix: Sequence[int | str] = ()) -> list[FieldError]:
    """Pydantic's errors as fields and messages (never echoing the input, which may be large
    or secret)."""
    return [
        FieldError(field=field_path([*prefix, *e["loc"]]) or "body", message=e["msg"])
        for e in errors
    ]


def plan_errors(lines: Sequence[str]) -> list[FieldError]:
    """The scheduler's `path: problem` lines as field errors."""
    found = []
    for line in lines:
        path, sep, message = line.partition(": ")
        found.append(
            FieldError(field=path, message=message) if sep else FieldError(field="", message=line)
        )
    return found


def install_error_handlers(app: FastAPI) -> None:
    """Every error the API can meet answers as problem+json; nothing but a bug gives a 500."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, kind=exc.kind, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(404, f"no {exc}", kind="not-found")

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem_response(409, str(exc), kind="conflict")

    @app.exception_handler(InvalidPlan)
    async def invalid_plan(request: Request, exc: InvalidPlan) -> JSONResponse:
        return problem_response(
            422,
            str(exc),
            kind="invalid-plan",
            title="The plan would be inconsistent",
            errors=plan_errors(exc.errors),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem_response(422, detail, kind="validation", errors=errors)

    @app.exception_handler(ValidationError)
    async def invalid_body(request: Request, exc: ValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors(), ("body",))
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem_response(422, detail, kind="validation", errors=errors)

    @app.exception_handler(ValueError)
    async def invalid_value(request: Request, exc: ValueError) -> JSONResponse:
        # The scheduler refuses bad arguments (a webhook address, a feed's party) this way.
        return problem_response(422, str(exc), kind="validation")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(IntegrityError)
    async def integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error: %s", type(exc.orig).__name__)
        return problem_response(409, "the change conflicts with stored data", kind="conflict")

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> JSONResponse:
        return problem_response(422, "a value cannot be stored (out of range or NUL)")

    @app.exception_handler(OperationalError)
    async def busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc.orig)
        return problem_response(503, "the database is busy; retry", headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, redact(request.url.path))
        return problem_response(500, "internal error (logged)")


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (the ETag sent is current)"}
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "model": ProblemDetails,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }
