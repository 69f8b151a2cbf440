"""Process settings from the environment (prefix OFFSEASON_), read once by each entry point.

Entry points call `get_settings()` and pass the result down; nothing below them reads the
environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from config import defaults


class Settings(BaseSettings):
    """Everything an operator may set; the defaults run the embedded single-process setup."""

    model_config = SettingsConfigDict(env_prefix="OFFSEASON_", env_file=".env", extra="ignore")

    # Storage: a SQLite file by default, PostgreSQL by URL (postgresql+psycopg://...).
    database_url: str = "sqlite:///offseason.db"

    # Solving.
    default_weights: dict[str, int] = Field(
        default_factory=lambda: dict(defaults.WEIGHTS), description="A plan may override these."
    )
    solve_time_limit: float = Field(default=defaults.TIME_LIMIT_S, gt=0)
    solve_workers: int = Field(default=defaults.WORKERS, ge=1, le=64)
    solve_seed: int = Field(default=defaults.SEED, ge=0)
    freeze_days: int = Field(default=defaults.FREEZE_DAYS, ge=0)
    near_days: int = Field(default=defaults.NEAR_DAYS, ge=1)
    repair_debounce_seconds: float = Field(
        default=30.0, ge=0, description="Repair this long after the last change to a plan."
    )
    max_run_attempts: int = Field(
        default=3, ge=1, description="Runs of one request before it is given up (crashes count)."
    )

    # Nightly re-optimisation (a plan may set its own cron, time zone and margin).
    nightly_cron: str = "0 2 * * *"
    nightly_time_zone: str = "UTC"
    nightly_margin: float = Field(
        default=0.01, ge=0, lt=1, description="Publish only when the objective drops this share."
    )

    # Briefings to units.
    briefing_cron: str = "0 7 * * 1"
    briefing_time_zone: str = "UTC"
    briefing_ahead_days: int = Field(default=14, ge=0)

    # Worker.
    embedded_worker: bool = Field(
        default=True, description="Run the worker inside the API process (single-process setup)."
    )
    solve_in_child_process: bool = Field(
        default=False,
        description="Solve in a child process, so that an embedded worker's solve does not "
        "hold the API process's interpreter lock (`serve` turns it on with the worker).",
    )
    worker_poll_seconds: float = Field(default=2.0, gt=0)
    lease_seconds: float = Field(
        default=300.0, gt=0, description="SQLite plan lease beyond the solve time limit."
    )

    # Notifications.
    default_channel: Literal["file", "none"] = Field(
        default="file", description="For parties without a subscription."
    )
    outbox_dir: Path = Path("outbox")
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "offseason@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_backoff_seconds: float = Field(
        default=30.0, ge=0, description="First retry delay; doubles after each failure."
    )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
