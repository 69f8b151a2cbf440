"""The service's commands: `db upgrade`, `keys`, `serve` (a real server on a free port), and the
README's `demo` (S plan generated, solved and published; slow)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app
from config.settings import get_settings

runner = CliRunner()


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """OFFSEASON_DATABASE_URL on a new SQLite file (the commands read the environment)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OFFSEASON_DATABASE_URL", url)
    monkeypatch.setenv("OFFSEASON_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_keys_need_a_migrated_database_then_are_issued_listed_and_revoked(
    environment: str,
) -> None:
    refused = runner.invoke(app, ["keys", "create", "ops"])
    assert refused.exit_code == 2 and "offseason db upgrade" in refused.output
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(app, ["keys", "create", "ops", "--role", "admin"])
    assert made.exit_code == 0
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("osk_")
    listed = runner.invoke(app, ["keys", "list"])
    assert "ops" in listed.stdout and "admin" in listed.stdout and key not in listed.stdout
    assert runner.invoke(app, ["keys", "create", "x", "--role", "root"]).exit_code == 2
    assert runner.invoke(app, ["keys", "revoke", "1"]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", "9"]).exit_code == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_runs_the_api_on_the_configured_database(environment: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    key = runner.invoke(app, ["keys", "create", "ops", "--role", "viewer"]).stdout.split()[-1]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--no-worker"],
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        health = None
        while health is None and time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health == {"status": "ok", "database": "sqlite", "worker": "separate"}
        me = httpx.get(f"http://127.0.0.1:{port}/me", headers={"X-API-Key": key}).json()
        assert me["role"] == "viewer"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_the_demo_publishes_the_s_plan_and_prints_what_to_try(
    environment: str, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["demo", "--no-serve", "--time-limit", "8", "--workdir", str(tmp_path / "demo")]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "published version 1" in out
    assert "http://localhost:8000/docs" in out and "/feeds/" in out and "osk_" in out
    assert (tmp_path / "demo" / "offseason.db").exists()
