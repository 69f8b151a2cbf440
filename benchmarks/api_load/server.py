"""The server under load: the API on the benchmark's database, with its embedded worker (as
`offseason serve` runs it) or without (`serve --no-worker` next to `offseason worker`), plus a
bare route that measures the framework's own limit."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from config.settings import Settings


def bare_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get("/bare", include_in_schema=False)
    async def bare() -> dict[str, bool]:
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--solve-time-limit", type=float, default=60.0)
    parser.add_argument("--separate-worker", action="store_true", help="No embedded worker.")
    args = parser.parse_args()
    settings = Settings(
        _env_file=None,
        database_url=args.database_url,
        outbox_dir=args.workdir / "outbox",
        solve_time_limit=args.solve_time_limit,
        repair_debounce_seconds=0.0,
        worker_poll_seconds=0.5,
        embedded_worker=not args.separate_worker,
        solve_in_child_process=not args.separate_worker,  # as `offseason serve` does
    )
    uvicorn.run(
        bare_app(settings),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
