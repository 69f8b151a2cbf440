"""The planner's commands: generate, solve (progress and summary), check, explain, schema, and
bad input as a message with exit code 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from tests.solver.factories import make_course, make_problem, make_trainer, make_window

runner = CliRunner()


def test_generate_solve_and_check_a_city_year(tmp_path: Path) -> None:
    problem, schedule = tmp_path / "problem.json", tmp_path / "schedule.json"
    made = runner.invoke(app, ["generate", "--scale", "S", "--seed", "1", "-o", str(problem)])
    assert made.exit_code == 0, made.output
    args = ["solve", str(problem), "-o", str(schedule), "--time-limit", "4", "--workers", "1"]
    solved = runner.invoke(app, args)
    assert solved.exit_code == 0, solved.output
    answer = json.loads(schedule.read_text())
    assert answer["status"] in ("optimal", "feasible") and answer["placements"]
    # The summary names how hard the search worked, as the result's statistics do.
    stats = answer["stats"]
    assert stats["lns_steps"] >= 1
    assert sum(stats["neighbourhoods"].values()) == stats["lns_steps"]
    # Savings are named by the kinds tried, and each counts only what lowered the cost.
    gains = stats.get("gains", {})
    assert set(gains) <= set(stats["neighbourhoods"]) and all(g > 0 for g in gains.values())
    assert stats["local_moves"] > 0 and stats["local_saved"] > 0
    for row in ("objective", "gap", "lns_steps", "improvements", "neighbourhoods", "local moves"):
        assert row in solved.output
    checked = runner.invoke(app, ["check", str(problem), str(schedule)])
    assert checked.exit_code == 0, checked.output
    assert f"objective: {answer['objective']}" in checked.output


def test_explain_names_the_rules_that_conflict(tmp_path: Path) -> None:
    course = make_course(name="Rule of law, Datong county", trainer="t-17", earliest=0, latest=2)
    trainer = make_trainer(id="t-17", unavailable=[make_window(0, 3, reason="overseas mission")])
    path = tmp_path / "problem.json"
    path.write_text(make_problem(trainers=[trainer], courses=[course]).model_dump_json())
    told = runner.invoke(app, ["explain", str(path)])
    assert told.exit_code == 1
    assert "t-17" in told.output and "Datong" in told.output


def test_a_bad_problem_file_is_reported_by_path_with_exit_code_2(tmp_path: Path) -> None:
    raw = make_problem(courses=[make_course(trainer="t-99")]).model_dump(mode="json")
    raw["courses"][0]["sessions"] = 0
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(raw))
    told = runner.invoke(app, ["solve", str(path), "-o", str(tmp_path / "s.json")])
    assert told.exit_code == 2
    assert "courses[0].sessions" in told.output
    assert "Traceback" not in told.output
    assert not (tmp_path / "s.json").exists()


def test_schema_is_the_problem_files_json_schema() -> None:
    printed = runner.invoke(app, ["schema"])
    assert printed.exit_code == 0
    schema = json.loads(printed.output)
    assert {"courses", "trainers", "calendar"} <= set(schema["properties"])
