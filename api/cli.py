"""The `offseason` command line: generate, solve, check, explain, schema (and the service).

An entry point: it reads config/ and passes everything down as arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from config import defaults
from solver.files import InvalidFile, parse_problem, parse_solution
from solver.problem import DayRef, Problem, Weights

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)
out = Console()


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
        )  # type: ignore[arg-type]
    except ValueError as exc:
        fail([str(exc)])
    line = {"text": "starting"}

    def show(p: Progress) -> None:
        parts = [f"{p.elapsed:6.1f}s", p.phase]
        if p.objective is not None:
            parts.append(f"objective {p.objective}")
        if p.bound is not None:
            parts.append(f"bound {p.bound}")
        if p.gap is not None:
            parts.append(f"gap {p.gap:.1%}")
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
    for key in ("first_feasible_s", "wall_s"):
        if key in solution.stats:
            table.add_row(key, str(solution.stats[key]))
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


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo's files go.")] = Path(
        "offseason-demo"
    ),
    time_limit: float = 20.0,
    seed: int = 1,
) -> None:
    """Generate the S plan, solve it and show the schedule (the README's run command)."""
    from solver.scenarios import generate as make

    from solver.params import SolveParams
    from solver.solve import solve as run

    workdir.mkdir(parents=True, exist_ok=True)
    problem = make("S", seed).problem
    (workdir / "problem.json").write_text(problem.model_dump_json(indent=1, exclude_defaults=True))
    with console.status("solving the S plan..."):
        solution = run(problem, weights_for(problem), SolveParams(time_limit=time_limit, seed=seed))
    (workdir / "schedule.json").write_text(solution.model_dump_json(indent=1))
    print_summary(solution)
    out.print(f"wrote {workdir / 'problem.json'} and {workdir / 'schedule.json'}")


if __name__ == "__main__":
    app()
