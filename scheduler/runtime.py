"""What a worker's jobs share: the database, the settings, the clock, its own name, and an HTTP
client for webhooks. Built once by the process's wiring (`scheduler.worker`), or by a test."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock, utc_now
from scheduler.database import make_engine, make_sessions

if TYPE_CHECKING:
    from config.settings import Settings


def worker_name() -> str:
    """host:pid:random, so that a lease names a process that can be checked for life."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Runtime:
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    http: httpx.Client
    clock: Clock = utc_now
    worker: str = field(default_factory=worker_name)

    @staticmethod
    def open(settings: Settings, clock: Clock = utc_now) -> Runtime:
        engine = make_engine(settings.database_url)
        http = httpx.Client(timeout=settings.webhook_timeout_seconds)
        return Runtime(engine, make_sessions(engine), settings, http, clock)

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()
