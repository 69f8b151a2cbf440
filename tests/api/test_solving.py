"""Solving through the API: requests answered 202 and solved by the worker (run here by hand on
a fake clock), followed as server-sent events, cancelled; what-ifs never published; drafts
published as versions; diffs, explanations, briefings."""

from __future__ import annotations

import json
from typing import Any

from scheduler.runtime import Runtime
from tests.api.conftest import Clients, problem_json, published_plan, run_worker


def ask(clients: Clients, plan_id: int, **body: Any) -> dict[str, Any]:
    answer = clients.planner.post(f"/plans/{plan_id}/solve-requests", json=body)
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"/solve-requests/{answer.json()['id']}"
    found: dict[str, Any] = answer.json()
    return found


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            found.append((fields.get("event", "message"), json.loads(fields["data"])))
    return found


def test_a_solve_request_is_queued_then_solved_by_the_worker_and_can_be_followed(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = clients.planner.post("/plans", json=problem_json()).json()["id"]
    asked = ask(clients, plan_id, time_limit=5, seed=3)
    assert (asked["status"], asked["run"], asked["purpose"]) == ("pending", None, "draft")
    url = f"/solve-requests/{asked['id']}"
    (run_id,) = run_worker(rt)
    done = clients.viewer.get(url).json()
    assert done["status"] == "done"
    run = done["run"]
    assert (run["id"], run["status"], run["outcome"]) == (run_id, "optimal", "draft")
    assert run["seed"] == 3 and run["sessions"] == 5 and run["unscheduled"] == []
    assert run["objective"] == sum(run["breakdown"].values())

    followed = clients.viewer.get(f"{url}/events")
    assert followed.headers["content-type"].startswith("text/event-stream")
    (event,) = sse_events(followed.text)
    assert event == ("status", done)  # the stream ends once the request is done

    assert clients.viewer.get(f"/runs/{run_id}").json()["input_hash"] == run["input_hash"]
    solution = clients.viewer.get(f"/runs/{run_id}/solution").json()
    assert len(solution["placements"]) == 5
    preview = clients.viewer.get(f"/runs/{run_id}/preview").json()
    assert preview["from_version"] is None and len(preview["added"]) == 5


def test_a_waiting_request_can_be_cancelled_and_a_finished_one_cannot(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = clients.planner.post("/plans", json=problem_json()).json()["id"]
    first, second = ask(clients, plan_id), ask(clients, plan_id)
    assert clients.viewer.post(f"/solve-requests/{first['id']}/cancel").status_code == 403
    cancelled = clients.planner.post(f"/solve-requests/{first['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert len(run_worker(rt)) == 1  # only the second
    refused = clients.planner.post(f"/solve-requests/{second['id']}/cancel")
    assert refused.status_code == 409
    assert "nothing to cancel" in refused.json()["detail"]
    assert clients.viewer.get("/solve-requests/999").status_code == 404


def test_a_what_if_is_never_published_and_a_draft_becomes_the_next_version(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = published_plan(clients, rt)
    what_if = ask(clients, plan_id, purpose="what_if", mode="repair")
    draft = ask(clients, plan_id, mode="optimise", seed=11)
    run_worker(rt)
    what_if_run = clients.viewer.get(f"/solve-requests/{what_if['id']}").json()["run"]
    draft_run = clients.viewer.get(f"/solve-requests/{draft['id']}").json()["run"]
    assert what_if_run["outcome"] == "what_if" and draft_run["outcome"] == "draft"
    refused = clients.planner.post(f"/plans/{plan_id}/versions", json={"run": what_if_run["id"]})
    assert refused.status_code == 409 and "what-if" in refused.json()["detail"]
    assert clients.viewer.get(f"/plans/{plan_id}").json()["published_version"] == 1

    as_viewer = clients.viewer.post(f"/plans/{plan_id}/versions", json={"run": draft_run["id"]})
    assert as_viewer.status_code == 403
    published = clients.planner.post(f"/plans/{plan_id}/versions", json={"run": draft_run["id"]})
    assert published.status_code == 201
    assert published.headers["location"] == f"/plans/{plan_id}/versions/2"
    version = published.json()
    assert version["number"] == 2 and version["run_id"] == draft_run["id"]
    assert version["published_by"].startswith("api-key")
    again = clients.planner.post(f"/plans/{plan_id}/versions", json={"run": draft_run["id"]})
    assert again.status_code == 409
    listed = clients.viewer.get(f"/plans/{plan_id}/versions").json()
    assert [v["number"] for v in listed] == [2, 1]

    diff = clients.viewer.get(f"/plans/{plan_id}/diff").json()
    assert (diff["from_version"], diff["to_version"]) == (1, 2)
    changes = clients.viewer.get(f"/plans/{plan_id}/versions/2/changes").json()
    assert len(changes) == version["changes"]
    assert len(diff["moved"]) + len(diff["added"]) + len(diff["cancelled"]) == len(changes)
    backwards = clients.viewer.get(f"/plans/{plan_id}/diff", params={"from": 2, "to": 1})
    assert len(backwards.json()["moved"]) == len(diff["moved"])


def test_a_run_of_another_plan_cannot_be_published_here(clients: Clients, rt: Runtime) -> None:
    first = published_plan(clients, rt)
    second = clients.planner.post("/plans", json=problem_json()).json()["id"]
    ask(clients, first)
    (run_id,) = run_worker(rt)
    refused = clients.planner.post(f"/plans/{second}/versions", json={"run": run_id})
    assert refused.status_code == 422


def test_a_version_explains_its_score_session_by_session(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    explained = clients.viewer.get(f"/plans/{plan_id}/versions/1/explanation").json()
    version = clients.viewer.get(f"/plans/{plan_id}/versions/1").json()
    assert explained["breakdown"] == version["breakdown"]
    assert explained["objective"] == version["objective"] == sum(explained["breakdown"].values())
    paid = sum(s["cost"] for s in explained["sessions"])
    paid += sum(c["cost"] for c in explained["courses"]) + sum(
        c["cost"] for c in explained["plan_costs"]
    )
    assert paid == explained["objective"]
    uids = {s["uid"] for s in clients.viewer.get(f"/plans/{plan_id}/schedule").json()["items"]}
    assert explained["sessions"] and {s["uid"] for s in explained["sessions"]} <= uids
    for s in explained["sessions"]:
        assert s["cost"] == sum(c["cost"] for c in s["costs"]) and s["costs"][0]["message"]
    courses = {c["id"] for c in problem_json()["courses"]}  # type: ignore[attr-defined]
    peak = next(c for c in explained["plan_costs"] if c["term"] == "load_peak")
    assert peak["courses"] and set(peak["courses"]) <= courses  # who makes the peak
    assert explained["violations"] == [] and explained["conflicts"] == []


def test_left_out_courses_and_infeasible_plans_are_explained(clients: Clients, rt: Runtime) -> None:
    optional = problem_json()
    optional["courses"].append(  # type: ignore[attr-defined]
        {
            "id": "c-9",
            "sessions": 1,
            "topic": "law",
            "cohorts": ["q-1"],
            "required": False,
            "earliest": "2027-03-20",
        }  # after the plan's last day: it cannot be placed
    )
    plan_id = clients.planner.post("/plans", json=optional).json()["id"]
    ask(clients, plan_id)
    (run_id,) = run_worker(rt)
    explained = clients.viewer.get(f"/runs/{run_id}/explanation").json()
    (left_out,) = explained["unscheduled"]
    assert left_out["course"] == "c-9" and left_out["reason"]
    assert explained["breakdown"]["unscheduled"] > 0

    impossible = problem_json()
    impossible["courses"][0] |= {"sessions": 30}  # type: ignore[index]
    plan_id = clients.planner.post("/plans", json=impossible).json()["id"]
    ask(clients, plan_id)
    (run_id,) = run_worker(rt)
    run = clients.viewer.get(f"/runs/{run_id}").json()
    assert run["status"] == "infeasible" and run["outcome"] == "no_schedule"
    explained = clients.viewer.get(f"/runs/{run_id}/explanation").json()
    assert explained["status"] == "infeasible" and explained["objective"] is None
    assert explained["conflicts"] and explained["sessions"] == []
    refused = clients.planner.post(f"/plans/{plan_id}/versions", json={"run": run_id})
    assert refused.status_code == 409


def test_a_rerun_reproduces_a_run_as_a_what_if(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    original = clients.viewer.get(f"/plans/{plan_id}/runs").json()[0]
    rerun = clients.planner.post(f"/runs/{original['id']}/rerun")
    assert rerun.status_code == 202 and rerun.json()["purpose"] == "what_if"
    run_worker(rt)
    again = clients.viewer.get(rerun.headers["location"]).json()["run"]
    assert again["input_hash"] == original["input_hash"]
    assert again["objective"] == original["objective"]


def test_a_unit_gets_its_briefing_on_demand_and_sent(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    briefing = clients.viewer.get(
        f"/plans/{plan_id}/units/u-2/briefing", params={"ahead_days": 60}
    ).json()
    assert briefing["unit"] == "u-2" and briefing["version"] == 1
    schedule = clients.viewer.get(f"/plans/{plan_id}/schedule", params={"unit": "u-2"})
    expected = schedule.json()["items"]
    assert [c["course"] for c in briefing["coming"]] == [s["course"] for s in expected]
    assert [c["cohort"] for c in briefing["coverage"]] == ["q-2"]
    assert clients.viewer.post(f"/plans/{plan_id}/units/u-2/briefings").status_code == 403
    produced = clients.planner.post(f"/plans/{plan_id}/units/u-2/briefings")
    assert produced.status_code == 201 and produced.json()["unit"] == "u-2"
    stored = clients.viewer.get(f"/plans/{plan_id}/briefings", params={"unit": "u-2"}).json()
    assert [b["id"] for b in stored] == [produced.json()["id"]]
    assert clients.viewer.get(f"/plans/{plan_id}/units/u-9/briefing").status_code == 404
