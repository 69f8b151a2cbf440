"""`python -m benchmarks.api_load`: the API under load on loopback, bounded in time.

The S plan is generated, solved and published into a fresh SQLite file (as `offseason demo`
does); the API runs in a second process with its embedded worker (as `offseason serve` runs it);
this process is the load generator. Measured: a bare FastAPI route (the framework's limit), a
304 revalidation of a trainer's feed, the full feed, and a unit's JSON schedule, first idle, then
while a repair solve runs in the server's worker. Results go to RESULTS.md next to this file.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from api.demo import Demo, build_demo, fresh_database
from benchmarks.api_load.loadgen import Outcome, get, load
from config.settings import Settings

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
BARE = "bare route"
READS = ("feed, 304 revalidation", "feed, full ICS", "JSON schedule of a unit")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    url: str, workdir: Path, port: int, solve_seconds: float, *, separate_worker: bool
) -> list[subprocess.Popen[bytes]]:
    """The API process (and, with `separate_worker`, a worker process beside it)."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.api_load.server",
        "--database-url",
        url,
        "--port",
        str(port),
        "--workdir",
        str(workdir),
        "--solve-time-limit",
        str(solve_seconds),
    ]
    environment = os.environ | {"PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            command + ["--separate-worker"] * separate_worker, cwd=ROOT, env=environment
        )
    ]
    if separate_worker:
        worker = environment | {
            "OFFSEASON_DATABASE_URL": url,
            "OFFSEASON_OUTBOX_DIR": str(workdir / "outbox"),
            "OFFSEASON_SOLVE_TIME_LIMIT": str(solve_seconds),
            "OFFSEASON_REPAIR_DEBOUNCE_SECONDS": "0",
            "OFFSEASON_WORKER_POLL_SECONDS": "0.5",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "scheduler"],
                cwd=workdir,
                env=worker,
                stderr=subprocess.DEVNULL,
            )
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return processes
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(processes)
    raise SystemExit("the server did not start")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def scenarios(demo: Demo, port: int) -> dict[str, tuple[str, dict[str, str]]]:
    feed = f"/feeds/{demo.feed_token}.ics"
    etag = get(port, feed)[1]["etag"]
    key = {"Authorization": f"Bearer {demo.api_key}"}
    return {
        BARE: ("/bare", {}),
        READS[0]: (feed, {"If-None-Match": etag}),
        READS[1]: (feed, {}),
        READS[2]: (f"/plans/{demo.plan_id}/schedule?unit={demo.unit}", key),
    }


def cold_render_ms(demo: Demo, port: int) -> dict[str, float]:
    """First requests after start: nothing rendered yet."""
    key = {"Authorization": f"Bearer {demo.api_key}"}
    timed = {}
    for name, path in (
        ("whole plan calendar (cold)", f"/plans/{demo.plan_id}/calendar.ics"),
        ("a trainer's feed (cold)", f"/feeds/{demo.feed_token}.ics"),
    ):
        started = time.perf_counter()
        status, _ = get(port, path, key)
        assert status == 200, (path, status)
        timed[name] = round(1000 * (time.perf_counter() - started), 1)
    return timed


def start_repair(demo: Demo, port: int, trainer: str) -> int:
    """`trainer` drops out for May: the event asks for a repair, which the worker starts."""
    base = f"http://127.0.0.1:{port}/plans/{demo.plan_id}"
    key = {"Authorization": f"Bearer {demo.api_key}"}
    window = {"window": {"first": "2027-05-01", "last": "2027-05-31"}, "reason": "benchmark"}
    answer = httpx.post(f"{base}/trainers/{trainer}/unavailability", json=window, headers=key)
    answer.raise_for_status()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = httpx.get(f"{base}/runs", headers=key).json()
        running = [r for r in runs if r["status"] == "running"]
        if running:
            run_id: int = running[0]["id"]
            return run_id
        time.sleep(0.2)
    raise SystemExit("the repair did not start")


def other_trainers(demo: Demo, port: int) -> list[str]:
    key = {"Authorization": f"Bearer {demo.api_key}"}
    url = f"http://127.0.0.1:{port}/plans/{demo.plan_id}/trainers"
    return [t["id"] for t in httpx.get(url, headers=key).json() if t["id"] != demo.trainer]


def while_solving(
    demo: Demo, port: int, trainer: str, args: argparse.Namespace
) -> tuple[int, dict[str, Outcome], int]:
    """The reads while a repair runs: its run, the outcomes, the windows it was running in."""
    paths = scenarios(demo, port)
    run_id = start_repair(demo, port, trainer)
    print(f"repair run {run_id} started", flush=True)
    during: dict[str, Outcome] = {}
    running = 0
    for name in READS:
        path, headers = paths[name]
        print(f"solving: {name} ...", flush=True)
        during[name] = asyncio.run(
            load(port, path, headers, clients=args.clients, seconds=args.during_seconds)
        )
        running += run_status(demo, port, run_id) == "running"
    return run_id, during, running


def run_status(demo: Demo, port: int, run_id: int) -> str:
    key = {"Authorization": f"Bearer {demo.api_key}"}
    status: str = httpx.get(f"http://127.0.0.1:{port}/runs/{run_id}", headers=key).json()["status"]
    return status


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"
    )


def table(results: dict[str, Outcome], bare: Outcome | None) -> list[str]:
    lines = [
        "| scenario | requests/s | of bare | p50 ms | p99 ms | max ms | statuses | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, outcome in results.items():
        s = outcome.summary()
        share = f"{outcome.throughput / bare.throughput:.0%}" if bare else "-"
        lines.append(
            f"| {name} | {s['rps']} | {share} | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} "
            f"| {s['statuses']} | {s['errors'] or 'none'} |"
        )
    return lines


def verdicts(idle: dict[str, Outcome], during: dict[str, Outcome]) -> list[str]:
    bare = idle[BARE].throughput
    lines = []
    for name in READS[:2]:
        share = idle[name].throughput / bare
        lines.append(
            f"- cached feed `{name}`: {share:.0%} of the bare route "
            f"(target >= 70 %): {'met' if share >= 0.7 else 'NOT met'}"
        )
    for name in READS:
        p99 = 1000 * idle[name].percentile(99)
        lines.append(
            f"- idle `{name}` p99 {p99:.1f} ms (target < 100 ms): "
            f"{'met' if p99 < 100 else 'NOT met'}"
        )
    for name, outcome in during.items():
        p99 = 1000 * outcome.percentile(99)
        bad = sum(outcome.errors.values()) + sum(
            n for status, n in outcome.statuses.items() if status >= 500
        )
        ok = bad == 0 and p99 < 250
        lines.append(
            f"- during the solve `{name}`: {bad} errors, p99 {p99:.1f} ms "
            f"(target: no error, p99 < 250 ms): {'met' if ok else 'NOT met'}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="Per idle scenario.")
    parser.add_argument("--during-seconds", type=float, default=8.0, help="Per read, solving.")
    parser.add_argument("--prepare-seconds", type=float, default=20.0, help="The first solve.")
    parser.add_argument("--repair-seconds", type=float, default=60.0, help="The repair's limit.")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    command = " ".join(["python -m benchmarks.api_load", *sys.argv[1:]])

    with tempfile.TemporaryDirectory(prefix="offseason-load-") as tmp:
        workdir = Path(tmp)
        url = fresh_database(workdir)
        settings = Settings(_env_file=None, database_url=url, outbox_dir=workdir / "outbox")
        print(f"preparing the S plan (solve {args.prepare_seconds:.0f} s) ...", flush=True)
        demo = build_demo(settings, time_limit=args.prepare_seconds)
        port = free_port()
        server = start_server(url, workdir, port, args.repair_seconds, separate_worker=False)
        try:
            cold = cold_render_ms(demo, port)
            idle: dict[str, Outcome] = {}
            for name, (path, headers) in scenarios(demo, port).items():
                print(f"idle: {name} ...", flush=True)
                idle[name] = asyncio.run(
                    load(port, path, headers, clients=args.clients, seconds=args.seconds)
                )
            first, second = other_trainers(demo, port)[:2]
            embedded = while_solving(demo, port, first, args)
        finally:
            stop(server)
        server = start_server(url, workdir, port, args.repair_seconds, separate_worker=True)
        try:
            separate = while_solving(demo, port, second, args)
        finally:
            stop(server)

    during = {f"{k} (embedded)": v for k, v in embedded[1].items()}
    during |= {f"{k} (separate worker)": v for k, v in separate[1].items()}
    lines = [
        "# API load benchmark",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- command: `{command}`",
        f"- set-up: S plan ({demo.sessions} sessions, {demo.status}), SQLite, one uvicorn "
        "process (solves use the default 2 CP-SAT workers); the load generator is another "
        f"process on loopback, {args.clients} keep-alive connections, {args.seconds:.0f} s per "
        f"idle scenario and {args.during_seconds:.0f} s per read during a solve, after a 1 s "
        "warm-up each.",
        f"- feed: trainer {demo.trainer}; JSON schedule: unit {demo.unit} (first page of 100).",
        f"- first renders: {', '.join(f'{k} {v} ms' for k, v in cold.items())}.",
        "",
        "## Idle",
        "",
        *table(idle, idle[BARE]),
        "",
        "## While a repair solve runs",
        "",
        "A trainer drops out for May; the event asks for a repair of the published schedule, "
        f"solved with a {args.repair_seconds:.0f} s limit. First with the worker embedded in the "
        "API process (the default of `offseason serve`), then with the API alone and the worker "
        "in a process of its own (`offseason serve --no-worker` and `offseason worker`). The "
        "embedded worker runs each solve in a child process, so the solve never holds the API "
        "process's interpreter lock (before it did: p99 228-345 ms); both share the 2 CPUs.",
        "",
        f"### Embedded worker (run {embedded[0]}, still solving at the end of {embedded[2]} of "
        f"{len(READS)} windows)",
        "",
        *table(embedded[1], idle[BARE]),
        "",
        f"### Separate worker process (run {separate[0]}, still solving at the end of "
        f"{separate[2]} of {len(READS)} windows)",
        "",
        *table(separate[1], idle[BARE]),
        "",
        "## Against the targets",
        "",
        *verdicts(idle, during),
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
