"""How the solver does at S (city), M (province) and L (national), and how cost grows.

    python -m benchmarks.scale --scales S --seeds 1 2 3 --time-limit 60 --workers 2
    python -m benchmarks.scale --scales S --seeds 1 --repair        # a trainer drops out
    python -m benchmarks.scale --scales L --seeds 1 --repair-only   # the repair alone, from the
                                                                    # generator's planted schedule

Each solve runs in its own process so that peak memory (max RSS) is that solve's alone. Prints
one row per run: time to first feasible, objective, bound, gap, peak memory, and for --repair
the repair's time and how many sessions moved against how many had to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import platform
import resource
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from config import defaults


def _run(scale: str, seed: int, time_limit: float, workers: int, repair: str, out: Any) -> None:
    """One row; `repair`: "" (none), "after" (after the solve) or "only" (no solve: the repair
    starts from the generator's planted schedule, to time a repair at scale without first
    spending the solve's minutes)."""
    from solver.params import SolveParams
    from solver.problem import Weights
    from solver.scenarios import generate
    from solver.solution import Solution
    from solver.solve import solve

    t0 = time.monotonic()
    scenario = generate(scale, seed)  # type: ignore[arg-type]
    problem = scenario.problem
    generated = time.monotonic() - t0
    weights = Weights.resolve(defaults.WEIGHTS, problem.weights)
    params = SolveParams(time_limit=time_limit, workers=workers, seed=seed)
    if repair == "only":
        solution = Solution(status="feasible", placements=list(scenario.witness), weights=weights)
    else:
        solution = solve(problem, weights, params)
    row: dict[str, Any] = {
        "scale": scale,
        "seed": seed,
        "courses": len(problem.courses),
        "sessions": sum(c.sessions for c in problem.courses),
        "generate_s": round(generated, 2),
        "status": solution.status,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "first_feasible_s": solution.stats.get("first_feasible_s"),
        "wall_s": solution.stats.get("wall_s"),
        "lns_steps": solution.stats.get("lns_steps"),
    }
    if repair == "only":
        row["status"] = "planted (not solved)"
    if repair and solution.placements:
        row.update(_repair(problem, weights, solution, workers, seed))
    # The solve's own peak plus its biggest child's (pre-checks or bound worked out aside on a
    # large plan, solver/parallel.py): an upper bound on what both held at once.
    peak_kb = sum(
        resource.getrusage(who).ru_maxrss
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    row["peak_rss_mb"] = round(peak_kb / 1024)
    out.put(row)


def _repair(problem: Any, weights: Any, solution: Any, workers: int, seed: int) -> dict[str, Any]:
    """The busiest trainer drops out from mid-year; today is the day before."""
    from collections import Counter

    from solver.params import SolveParams
    from solver.problem import Window
    from solver.solution import RepairPolicy
    from solver.solve import solve

    dates = sorted(pl.day for pl in solution.placements)
    now = dates[len(dates) // 2]
    later = [pl for pl in solution.placements if pl.day > now + dt.timedelta(days=14)]
    # The busiest trainer whose courses all have someone else qualified (when a course's only
    # trainer leaves, the answer is "infeasible" with that reason, which is not a repair).
    replaceable = Counter(
        pl.trainer for pl in later if len(problem.qualified_trainers(problem.course(pl.course))) > 1
    )
    sole = {
        pl.trainer
        for pl in later
        if len(problem.qualified_trainers(problem.course(pl.course))) == 1
    }
    busiest = next(t for t, _ in replaceable.most_common() if t not in sole)
    away = Window(first=now + dt.timedelta(days=15), last=problem.calendar.last_date, reason="left")
    trainers = [
        t.model_copy(update={"unavailable": [*t.unavailable, away]}) if t.id == busiest else t
        for t in problem.trainers
    ]
    event = problem.model_copy(update={"trainers": trainers, "previous": solution.placements})
    policy = RepairPolicy(now=now, freeze_days=defaults.FREEZE_DAYS, near_days=defaults.NEAR_DAYS)
    params = SolveParams(mode="repair", time_limit=2.0, workers=workers, seed=seed)
    t0 = time.monotonic()
    repaired = solve(event, weights, params, policy)
    took = time.monotonic() - t0
    before = {(p.course, p.day, p.period, p.site, p.trainer) for p in solution.placements}
    after = {(p.course, p.day, p.period, p.site, p.trainer) for p in repaired.placements}
    had_to = [p for p in later if p.trainer == busiest and p.day >= away.first]
    must = len(had_to)
    # Sessions moved of courses none of whose sessions had to move: what a repair that moves
    # only what must move leaves alone (a course whose trainer left may move whole).
    touched = {p.course for p in had_to}
    return {
        "repair_status": repaired.status,
        "repair_s": round(took, 2),
        "repair_first_feasible_s": repaired.stats.get("first_feasible_s"),
        "moved": len(before - after),
        "had_to_move": must,
        "moved_elsewhere": len({x for x in before - after if x[0] not in touched}),
        "repair_conflicts": repaired.conflicts[:3],
    }


def growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scale (in the order first run): mean courses and objective over the runs that found
    a schedule, the objective per course, and that figure over the first scale's (1.0: the
    cost grows in proportion to the number of courses)."""
    by_scale: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if isinstance(row.get("objective"), int) and row.get("courses"):
            by_scale.setdefault(row["scale"], []).append(row)
    curve: list[dict[str, Any]] = []
    for scale, runs in by_scale.items():
        courses = sum(r["courses"] for r in runs) / len(runs)
        objective = sum(r["objective"] for r in runs) / len(runs)
        per_course = objective / courses
        first = curve[0]["per_course"] if curve else per_course
        curve.append(
            {
                "scale": scale,
                "runs": len(runs),
                "courses": courses,
                "objective": objective,
                "per_course": per_course,
                "vs_first": per_course / first if first else float("nan"),
            }
        )
    return curve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", nargs="+", default=["S"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repair", action="store_true")
    parser.add_argument(
        "--repair-only", action="store_true", help="repair the planted schedule; no solve"
    )
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    console = Console(width=220)
    console.print(
        f"{dt.date.today()} {platform.node()} {platform.processor() or platform.machine()} "
        f"python {platform.python_version()}; time limit {args.time_limit}s, {args.workers} workers"
    )
    repair = "only" if args.repair_only else "after" if args.repair else ""
    from solver.kernel import warm

    warm()  # into numba's cache: each row's process reads it in a second
    rows = []
    ctx = mp.get_context("spawn")
    for scale in args.scales:
        for seed in args.seeds:
            queue = ctx.Queue()
            proc = ctx.Process(
                target=_run,
                args=(scale, seed, args.time_limit, args.workers, repair, queue),
            )
            proc.start()
            proc.join(timeout=args.time_limit * 3 + 300)
            if proc.is_alive():
                proc.kill()
                rows.append({"scale": scale, "seed": seed, "status": "timed out"})
            elif queue.empty():
                rows.append({"scale": scale, "seed": seed, "status": f"crashed ({proc.exitcode})"})
            else:
                rows.append(queue.get())
            console.print(rows[-1])
    table = Table(title="scale")
    columns = [
        "scale",
        "seed",
        "courses",
        "sessions",
        "status",
        "first_feasible_s",
        "objective",
        "bound",
        "gap",
        "wall_s",
        "peak_rss_mb",
        "repair_s",
        "moved",
        "had_to_move",
        "moved_elsewhere",
    ]
    for c in columns:
        table.add_column(c)
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "-")
            cells.append(f"{v:.1%}" if c == "gap" and isinstance(v, float) else str(v))
        table.add_row(*cells)
    console.print(table)
    curve = growth(rows)
    if len(curve) > 1:
        grown = Table(title="cost growth (1.00 = cost grows like the number of courses)")
        for c in ("scale", "runs", "courses", "objective", "per course", "vs first"):
            grown.add_column(c)
        for g in curve:
            grown.add_row(
                g["scale"],
                str(g["runs"]),
                f"{g['courses']:,.0f}",
                f"{g['objective']:,.0f}",
                f"{g['per_course']:.2f}",
                f"{g['vs_first']:.2f}",
            )
        console.print(grown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=str)


if __name__ == "__main__":
    main()
