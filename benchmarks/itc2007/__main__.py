"""Run the general solver on ITC-2007 instances and have the official validator score each result.

Usage: python -m benchmarks.itc2007 --time-limit 300 --workers 2 --seed 1 --out DIR FILE.ctt...
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.itc2007 import data_dir
from benchmarks.itc2007.ctt import (
    ValidatorScore,
    read_ctt,
    run_validator,
    to_problem,
    write_solution,
)
from config.defaults import WEIGHTS
from solver.kernel import warm
from solver.params import SolveParams
from solver.problem import Weights
from solver.solution import RepairPolicy, Solution
from solver.solve import solve

# UD2 costs by file stem: the best known (CB-CTT site) and the ITC-2007 winner's (Müller).
BEST_KNOWN = {
    "comp01": 5,
    "comp02": 24,
    "comp03": 66,
    "comp04": 35,
    "comp05": 284,
    "comp06": 27,
    "comp07": 6,
}
ITC_WINNER = {
    "comp01": 5,
    "comp02": 51,
    "comp03": 84,
    "comp04": 37,
    "comp05": 330,
    "comp06": 48,
    "comp07": 20,
}


@dataclass(frozen=True)
class Result:
    """One instance's run: our solution and the validator's verdict on the file we wrote."""

    instance: str
    solution: Solution
    score: ValidatorScore | None


def solve_instance(path: Path, params: SolveParams, out: Path) -> Result:
    """Solve one `.ctt` file, write `<out>/<stem>.sol`, score it with the validator if found."""
    instance = read_ctt(path)
    problem = to_problem(instance)
    weights = Weights.resolve(WEIGHTS, problem.weights)
    solution = solve(problem, weights, params, policy=RepairPolicy(), progress=None)
    if not solution.placements:
        return Result(path.stem, solution, None)
    solution_path = out / f"{path.stem}.sol"
    solution_path.write_text(write_solution(instance, solution.placements))
    validator = data_dir() / "validate_ctt.py"
    if not validator.exists():
        return Result(path.stem, solution, None)
    return Result(path.stem, solution, run_validator(validator, path, solution_path))


def disagrees(result: Result) -> bool:
    """The validator finds a clash, or a cost other than ours: the model or the mapping is wrong."""
    score = result.score
    return score is not None and (score.hard > 0 or score.soft != result.solution.objective)


def ratio(cost: int, best: int) -> float:
    """Cost over best known, with 0 counted as 1 on both sides so that optima score 1."""
    return max(cost, 1) / max(best, 1)


def geometric_mean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _text(value: object, fmt: str = "") -> str:
    return "-" if value is None else format(value, fmt)


def results_table(results: list[Result]) -> Table:
    """One row per instance, then the geometric mean of the ratios to the best known.

    hard/soft are the validator's; best is the best known UD2 cost, ITC the competition winner's;
    feas s is when the first feasible schedule was found. Red rows: the validator disputes us.
    """
    table = Table(title="ITC-2007 curriculum-based timetabling (UD2)", box=None)
    table.add_column("instance", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for header in ("cost", "hard", "soft", "best", "ITC", "ratio", "feas s", "final s"):
        table.add_column(header, justify="right", no_wrap=True)
    ratios: list[float] = []
    for r in results:
        best = BEST_KNOWN.get(r.instance)
        cost = r.solution.objective if r.solution.placements else None
        this_ratio = ratio(cost, best) if cost is not None and best is not None else None
        if this_ratio is not None:
            ratios.append(this_ratio)
        table.add_row(
            r.instance,
            r.solution.status,
            _text(cost),
            _text(r.score.hard if r.score else None),
            _text(r.score.soft if r.score else None),
            _text(best),
            _text(ITC_WINNER.get(r.instance)),
            _text(this_ratio, ".2f"),
            _text(r.solution.stats.get("first_feasible_s"), ".1f"),
            _text(r.solution.stats.get("wall_s"), ".1f"),
            style="red" if disagrees(r) else None,
        )
    mean = geometric_mean(ratios)
    table.caption = f"geometric mean of cost / best known: {_text(mean, '.3f')} over {len(ratios)}"
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.itc2007", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.ctt")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per instance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("itc2007-out"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    params = SolveParams(time_limit=args.time_limit, workers=args.workers, seed=args.seed)
    console = Console()
    warm()  # compiled before the first instance's clock starts
    results = []
    for path in args.files:
        with console.status(f"solving {path.name} ({args.time_limit:g} s)"):
            results.append(solve_instance(path, params, args.out))
        console.print(f"{path.stem}: {results[-1].solution.status}")
    console.print(results_table(results))


if __name__ == "__main__":
    main()
