"""The `offseason` command line: generate, solve, check, explain, schema; and the service:
serve, worker, db upgrade, keys, demo.

An entry point: it reads config/ and passes everything down as arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from config import defaults
from solver.files import InvalidFile, parse_problem, parse_solution
from solver.problem import DayRef, Problem, Weights

if TYPE_CHECKING:
    from config.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)
out = Console()


def compile_search() -> None:
    """The solver's compiled moves, compiled before any timed solve (the first time on a
    machine, about 40 s; then read from numba's cache in a second)."""
    from solver.kernel import warm

    with console.status("preparing the compiled search (the first time: about a minute)"):
        seconds = warm()
    if seconds > 5:
        console.print(f"compiled the search in {seconds:.0f}s (once on this machine)")


def fail(lines: list[str], code: int = 2) -> NoReturn:
    for line in lines:
        console.print(f"[red]error[/red] {line}", highlight=False)
    raise typer.Exit(code)


def read_problem(path: Path) -> Problem:
    try:
        return parse_problem(path.read_bytes())
    except OSError as exc:
        fail([f"{path}: {exc.strerror}"])
    except InvalidFile as exc:
        fail([f"{path}: {e}" for e in exc.errors])


def weights_for(problem: Problem) -> Weights:
    return Weights.resolve(defaults.WEIGHTS, problem.weights)


def parse_day(text: str | None, problem: Problem) -> DayRef | None:
    if text is None:
        return None
    try:
        return int(text) if problem.calendar.abstract else dt.date.fromisoformat(text)
    except ValueError:
        kind = "a day number" if problem.calendar.abstract else "a date YYYY-MM-DD"
        fail([f"--now: {text!r} is not {kind}"])


@app.command()
def generate(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the problem.")],
    scale: Annotated[str, typer.Option(help="S (city), M (province) or L (national).")] = "S",
    seed: int = 1,
    infeasible: Annotated[bool, typer.Option(help="Plant a conflict on purpose.")] = False,
    year: int = 2027,
) -> None:
    """Write a realistic, seeded scenario (feasible unless asked otherwise)."""
    from solver.scenarios import generate as make

    if scale.upper() not in ("S", "M", "L"):
        fail([f"--scale: {scale!r} is not one of S, M, L"])
    scenario = make(scale.upper(), seed, infeasible=infeasible, year=year)  # type: ignore[arg-type]
    output.write_text(scenario.problem.model_dump_json(indent=1, exclude_defaults=True))
    p = scenario.problem
    out.print(
        f"wrote {output}: {len(p.courses)} courses, {len(p.sites)} sites, "
        f"{len(p.trainers)} trainers, {len(p.units)} units, {len(p.cohorts)} cohorts"
    )


@app.command()
def solve(
    problem_file: Annotated[Path, typer.Argument(help="The problem JSON.")],
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("schedule.json"),
    time_limit: float = defaults.TIME_LIMIT_S,
    workers: int = defaults.WORKERS,
    seed: int = defaults.SEED,
    gap: Annotated[float, typer.Option(help="Stop once the gap is below this.")] = 0.0,
    mode: Annotated[str, typer.Option(help="optimise or repair")] = "optimise",
    previous: Annotated[Path | None, typer.Option(help="Published schedule to repair.")] = None,
    now: Annotated[str | None, typer.Option(help="Today (repair): YYYY-MM-DD.")] = None,
    freeze_days: int = defaults.FREEZE_DAYS,
    log: Annotated[bool, typer.Option(help="Print CP-SAT's search log.")] = False,
) -> None:
    """Solve a problem and write the schedule; live progress, then a summary."""
    from solver.params import SolveParams
    from solver.solution import RepairPolicy
    from solver.solve import Progress
    from solver.solve import solve as run

    problem = read_problem(problem_file)
    if mode not in ("optimise", "repair"):
        fail([f"--mode: {mode!r} is not optimise or repair"])
    if mode == "repair" and previous is None and problem.previous is None:
        fail(["--previous: repair needs the published schedule"])
    if previous is not None:
        try:
            prior = parse_solution(previous.read_bytes())
        except (OSError, InvalidFile) as exc:
            fail([f"{previous}: {exc}"])
        problem = problem.model_copy(update={"previous": prior.placements})
    policy = RepairPolicy(
        now=parse_day(now, problem), freeze_days=freeze_days, near_days=defaults.NEAR_DAYS
    )
    try:
        params = SolveParams(
            mode=mode, time_limit=time_limit, workers=workers, seed=seed, gap_limit=gap, log=log
        )
    except ValueError as exc:
        fail([str(exc)])
    compile_search()
    line = {"text": "starting"}

    def show(p: Progress) -> None:
        parts = [f"{p.elapsed:6.1f}s", p.phase]
        if p.objective is not None:
            parts.append(f"objective {p.objective}")
        if p.bound is not None:
            parts.append(f"bound {p.bound}")
        if p.gap is not None:
            parts.append(f"gap {p.gap:.1%}")
        if p.steps:
            parts.append(f"neighbourhoods {p.steps}, improved {p.improvements}")
        line["text"] = "  ".join(parts)
        live.update(line["text"])

    with Live(line["text"], console=console, transient=True, refresh_per_second=4) as live:
        solution = run(problem, weights_for(problem), params, policy, progress=show)
    output.write_text(solution.model_dump_json(indent=1))
    print_summary(solution)
    out.print(f"wrote {output}")
    if solution.status in ("infeasible", "invalid"):
        raise typer.Exit(1)


def print_summary(solution: object) -> None:
    from solver.solution import Solution

    assert isinstance(solution, Solution)
    table = Table(title=f"status: {solution.status}", show_header=False)
    table.add_row("objective", str(solution.objective))
    table.add_row("bound", str(solution.bound))
    table.add_row("gap", "-" if solution.gap is None else f"{solution.gap:.1%}")
    for key in ("first_feasible_s", "wall_s", "lns_steps", "improvements"):
        if key in solution.stats:
            table.add_row(key, str(solution.stats[key]))
    tried = solution.stats.get("neighbourhoods") or {}
    if tried:
        gains = solution.stats.get("gains") or {}
        table.add_row(
            "neighbourhoods (tried, cost saved)",
            ", ".join(f"{k} {n} (-{gains.get(k, 0)})" for k, n in sorted(tried.items())),
        )
    if solution.stats.get("local_moves"):
        table.add_row(
            "local moves (tried, cost saved)",
            f"{solution.stats['local_moves']:,} (-{solution.stats.get('local_saved', 0)})",
        )
    table.add_row("sessions placed", str(len(solution.placements)))
    table.add_row("courses unscheduled", str(len(solution.unscheduled)))
    for term, cost in solution.breakdown.items():
        if cost:
            table.add_row(f"  {term}", str(cost))
    out.print(table)
    for u in solution.unscheduled:
        out.print(f"[yellow]unscheduled[/yellow] {u.course}: {u.reason}", highlight=False)
    for c in solution.conflicts:
        out.print(f"[red]conflict[/red] {c}", highlight=False)


@app.command()
def check(problem_file: Path, schedule_file: Path) -> None:
    """Recompute every hard violation and soft term; exit 0 iff no hard rule is broken."""
    from solver.checker import check as run_check

    problem = read_problem(problem_file)
    try:
        solution = parse_solution(schedule_file.read_bytes())
    except (OSError, InvalidFile) as exc:
        fail([f"{schedule_file}: {exc}"])
    weights = solution.weights or weights_for(problem)
    result = run_check(problem, solution.placements, weights, solution.policy)
    table = Table(title="soft terms", show_header=True)
    table.add_column("term")
    table.add_column("cost", justify="right")
    for term, cost in result.breakdown.items():
        table.add_row(term, str(cost))
    table.add_row("objective", str(result.objective))
    out.print(table)
    for v in result.violations:
        out.print(f"[red]{v.rule}[/red] {v.message}", highlight=False)
    out.print(f"hard violations: {len(result.violations)}  objective: {result.objective}")
    raise typer.Exit(0 if result.feasible else 1)


@app.command()
def explain(problem_file: Path, time_limit: float = 10.0) -> None:
    """Pre-checks in plain words, and the conflicting rules if the plan is infeasible."""
    from solver.explain import conflicting_rules
    from solver.grid import TimeGrid
    from solver.precheck import precheck
    from solver.solution import RepairPolicy

    problem = read_problem(problem_file)
    grid = TimeGrid.of(problem.calendar)
    findings = precheck(problem, grid)
    for f in findings:
        tag = "[red]cannot[/red]" if f.fatal else "[yellow]note[/yellow]"
        out.print(f"{tag} {f.message}", highlight=False)
    if any(f.fatal for f in findings):
        raise typer.Exit(1)
    conflicts = conflicting_rules(problem, grid, weights_for(problem), RepairPolicy(), time_limit)
    if conflicts is None:
        out.print(
            f"no conflict among the hard rules found in {time_limit:g} s; if solve finds no "
            "schedule, the plan is too tight for its sites, trainers or cohorts"
        )
        raise typer.Exit(0)
    out.print("[red]these rules cannot all hold:[/red]")
    for c in conflicts:
        out.print(f"  - {c}", highlight=False)
    raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the problem file."""
    sys.stdout.write(json.dumps(Problem.model_json_schema(), indent=1) + "\n")


# --- The service ---------------------------------------------------------------------------

db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys (shown once, stored hashed).")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


def service_settings() -> Settings:
    """The environment's settings (OFFSEASON_*), read once here and passed down."""
    from config.settings import get_settings

    try:
        return get_settings()
    except ValueError as exc:
        fail([f"settings: {exc}"])


def require_migrated(url: str) -> None:
    from alembic.script import ScriptDirectory

    from scheduler.database import MIGRATIONS, current_revision

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if current_revision(url) != head:
        fail(["the database is not at the latest schema: run `offseason db upgrade` first"])


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the tables of OFFSEASON_DATABASE_URL (default: ./offseason.db)."""
    from scheduler.database import current_revision, upgrade

    settings = service_settings()
    upgrade(settings.database_url)
    out.print(f"database at revision {current_revision(settings.database_url)}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who the key is for.")],
    role: Annotated[str, typer.Option(help="admin, planner or viewer.")] = "planner",
    plan: Annotated[int | None, typer.Option(help="Scope the key to this plan.")] = None,
) -> None:
    """Issue a key; it is printed once (only its hash is kept)."""
    from api.access import issue_key
    from scheduler.clock import utc_now
    from scheduler.database import make_engine, make_sessions

    if role not in ("admin", "planner", "viewer"):
        fail([f"--role: {role!r} is not admin, planner or viewer"])
    settings = service_settings()
    require_migrated(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessions(engine).begin() as session:
            row, key = issue_key(session, name, role, plan, now=utc_now())  # type: ignore[arg-type]
            key_id = row.id
    finally:
        engine.dispose()
    console.print(f"key {key_id} ({role}{f' of plan {plan}' if plan else ''}) for {name}:")
    out.print(key, highlight=False)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: id, name, role, prefix, last use, revocation."""
    from api.access import Principal
    from scheduler.api_keys import list_api_keys
    from scheduler.database import make_engine, make_sessions

    settings = service_settings()
    require_migrated(settings.database_url)
    engine = make_engine(settings.database_url)
    table = Table("id", "name", "role", "plan", "prefix", "last used", "revoked")
    try:
        with make_sessions(engine).begin() as session:
            for row in list_api_keys(session):
                grant = Principal.of(row.id, row.name, row.role)
                table.add_row(
                    str(row.id),
                    row.name,
                    grant.role,
                    str(grant.plan_id or "-"),
                    row.prefix,
                    str(row.last_used_at or "-"),
                    str(row.revoked_at or "-"),
                )
    finally:
        engine.dispose()
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke a key (API processes drop it within seconds)."""
    from scheduler.api_keys import revoke_api_key
    from scheduler.clock import utc_now
    from scheduler.database import make_engine, make_sessions
    from scheduler.errors import NotFound

    settings = service_settings()
    engine = make_engine(settings.database_url)
    try:
        with make_sessions(engine).begin() as session:
            revoke_api_key(session, key_id, now=utc_now())
    except NotFound as exc:
        fail([f"no {exc}"])
    finally:
        engine.dispose()
    out.print(f"key {key_id} revoked")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the worker in this process.")
    ] = True,
    log_level: str = "info",
) -> None:
    """Run the API (and, unless told otherwise, the worker in the same process)."""
    settings = service_settings()
    require_migrated(settings.database_url)
    if worker:
        compile_search()
    update = {"embedded_worker": worker, "solve_in_child_process": worker}
    run_server(settings.model_copy(update=update), host, port, log_level)


def run_server(settings: Settings, host: str, port: int, log_level: str = "info") -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


@app.command()
def worker() -> None:
    """Run the worker alone (solves, notifications, briefings, nightly runs) until stopped."""
    from scheduler.worker import run_worker

    settings = service_settings()
    require_migrated(settings.database_url)
    compile_search()
    run_worker(settings)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo's database goes.")] = Path(
        "offseason-demo"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    host: str = "127.0.0.1",
    time_limit: Annotated[float, typer.Option(min=1.0, help="Seconds for the solve.")] = 30.0,
    seed: int = 1,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API once published.")
    ] = True,
) -> None:
    """A city's year (the S plan) in a fresh SQLite file: generated, solved, published, served."""
    from api.demo import DemoFailed, build_demo, fresh_database
    from solver.solve import Progress

    settings = service_settings().model_copy(
        update={
            "database_url": fresh_database(workdir),
            "outbox_dir": workdir / "outbox",
            "embedded_worker": True,
            "solve_in_child_process": True,
        }
    )
    out.print(f"[bold]Offseason demo[/bold]: the S plan (seed {seed}) in {workdir}/offseason.db")
    compile_search()

    def show(p: Progress) -> None:
        parts = [f"solving {p.elapsed:5.1f}s of {time_limit:.0f}s", p.phase]
        if p.objective is not None:
            parts.append(f"objective {p.objective}")
        if p.bound is not None:
            parts.append(f"bound {p.bound}")
        live.update("  ".join(parts))

    try:
        with Live("generating and importing", console=console, transient=True) as live:
            made = build_demo(settings, seed=seed, time_limit=time_limit, progress=show)
    except DemoFailed as exc:
        fail([str(exc)], code=1)
    base = f"http://localhost:{port}"
    plan = f"{base}/plans/{made.plan_id}"
    curl = f"curl -H 'Authorization: Bearer {made.api_key}'"
    for line in (
        f"published version {made.version}: {made.sessions} sessions, status {made.status}, "
        f"objective {made.objective}, {made.unscheduled} course(s) unscheduled "
        f"(solved in {made.seconds:.0f}s)\n",
        f"API docs            {base}/docs",
        f"a unit's schedule   {plan}/schedule?unit={made.unit}",
        f"a trainer's feed    {base}/feeds/{made.feed_token}.ics  (trainer {made.trainer})",
        f"a planner's API key {made.api_key}",
        f"\ntry:  {curl} '{plan}/schedule?unit={made.unit}'",
        f"      {curl} {plan}/versions/1/explanation",
    ):
        out.print(line, highlight=False, soft_wrap=True)
    if serve:
        out.print(f"\nserving on {base} (Ctrl-C to stop)")
        run_server(settings, host, port, "warning")


if __name__ == "__main__":
    app()
