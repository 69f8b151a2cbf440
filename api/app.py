"""The web application: `create_app(settings)` builds it, and its lifespan is the one place that
wires the process (database, caches, the embedded worker, log redaction)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from api.bodies import MAX_BODY_BYTES, MAX_PROBLEM_BYTES
from api.conditional import Remembered, RepresentationCache
from api.dependencies import Wiring
from api.errors import error_responses, install_error_handlers
from api.limits import BodyLimit
from api.published import Publications
from api.redaction import RedactFeedTokens
from api.routers import (
    api_keys,
    blackouts,
    briefings,
    calendars,
    cohorts,
    courses,
    events,
    feeds,
    health,
    pins,
    plans,
    runs,
    schedule,
    sites,
    solve_requests,
    subscriptions,
    trainers,
    units,
    versions,
)
from config.settings import Settings, get_settings
from scheduler.clock import Clock, utc_now
from scheduler.database import make_engine, make_sessions

KEY_SECONDS = 15.0  # a verified API key is trusted this long without a lookup
FRESH_SECONDS = 1.0  # published state is read again after this (see api.published)

DESCRIPTION = """\
Offseason schedules training courses around the work seasons they train people for.

**Planners** import a plan (`POST /plans` with a problem file, the format of `offseason schema`)
or build it entity by entity, ask for solves (`POST /plans/{plan_id}/solve-requests`: the worker
solves outside the request), review a run's explanation and preview, and publish it as a version.
**Consumers** read the published schedule as JSON (`/plans/{plan_id}/schedule`) or iCalendar
(`/plans/{plan_id}/calendars/...`, and `/feeds/{token}.ics` for calendar apps, no headers needed).

Send an API key as `Authorization: Bearer <key>` (or `X-API-Key`). Roles: viewer (read),
planner (also change and solve), admin (also keys); a key may be scoped to one plan.
Errors are `application/problem+json` naming the fields at fault.
"""


def create_app(settings: Settings, clock: Clock = utc_now) -> FastAPI:
    """The API on `settings`' database; with `settings.embedded_worker`, the worker runs in
    this process too. Nothing is opened until the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.getLogger("uvicorn.access").addFilter(RedactFeedTokens())
        engine = make_engine(settings.database_url)
        sessions = make_sessions(engine)
        wiring = Wiring(
            settings=settings,
            engine=engine,
            sessions=sessions,
            clock=clock,
            keys=Remembered(KEY_SECONDS, size=10_000),
            publications=Publications(sessions, clock, fresh=FRESH_SECONDS),
            representations=RepresentationCache(),
        )
        if settings.embedded_worker:
            from scheduler.worker import start_embedded_worker

            wiring.worker = await run_in_threadpool(start_embedded_worker, settings, clock)
        app.state.wiring = wiring
        try:
            yield
        finally:
            if wiring.worker is not None:
                wiring.worker.stop()
            engine.dispose()

    app = FastAPI(
        title="Offseason",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=error_responses(400, 401, 403, 413, 422),
    )
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit, default=MAX_BODY_BYTES, larger={("POST", "/plans"): MAX_PROBLEM_BYTES}
    )
    for module in (
        plans,
        sites,
        trainers,
        units,
        cohorts,
        courses,
        blackouts,
        pins,
        solve_requests,
        runs,
        versions,
        schedule,
        calendars,
        feeds,
        subscriptions,
        briefings,
        events,
        api_keys,
        health,
    ):
        app.include_router(module.router)
    return app


def main() -> FastAPI:
    """For `uvicorn --factory api.app:main` (the settings come from the environment)."""
    return create_app(get_settings())
