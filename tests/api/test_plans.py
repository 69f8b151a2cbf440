"""Plans and their entities over HTTP: import and export a whole problem file, settings, every
entity's routes, the named changes, blackouts and pins; errors naming the field at fault."""

from __future__ import annotations

import datetime as dt
from typing import Any

from scheduler.runtime import Runtime
from solver.problem import Problem
from tests.api.conftest import Clients, problem_json, published_plan
from tests.scheduler.factories import MONDAY

WHOLE_PLAN = {"first": str(MONDAY), "last": str(MONDAY + dt.timedelta(days=11))}


def new_plan(clients: Clients, **overrides: Any) -> int:
    answer = clients.planner.post("/plans", json=problem_json() | overrides)
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/plans/{answer.json()['id']}"
    plan_id: int = answer.json()["id"]
    return plan_id


def events(clients: Clients, plan_id: int) -> list[str]:
    return [e["name"] for e in clients.viewer.get(f"/plans/{plan_id}/events").json()]


def test_a_problem_file_imports_as_a_plan_and_exports_with_its_published_schedule(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = published_plan(clients, rt)
    plan = clients.viewer.get(f"/plans/{plan_id}").json()
    assert plan["name"] == "spring programme" and plan["published_version"] == 1
    exported = Problem.model_validate(clients.viewer.get(f"/plans/{plan_id}/problem").json())
    assert exported.model_copy(update={"previous": None}) == Problem.model_validate(problem_json())
    assert exported.previous is not None and len(exported.previous) == 5

    again = clients.planner.post("/plans", json=exported.model_dump(mode="json"))
    assert again.status_code == 201 and again.json()["published_version"] == 1  # imported
    schedule = clients.viewer.get(f"/plans/{again.json()['id']}/schedule").json()["items"]
    assert sorted((s["course"], s["day"], s["period"]) for s in schedule) == sorted(
        (p.course, str(p.day), p.period) for p in exported.previous
    )


def test_a_bad_problem_file_is_refused_naming_every_field_at_fault(clients: Clients) -> None:
    broken = problem_json()
    broken["courses"][0] |= {"topic": None, "trainer": "t-99"}  # type: ignore[index]
    broken["cohorts"][1]["unit"] = "u-9"  # type: ignore[index]
    answer = clients.planner.post("/plans", json=broken)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    fields = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert fields["courses[0].trainer"] == 'unknown trainer "t-99"'
    assert fields["cohorts[1].unit"] == 'unknown unit "u-9"'

    shapeless = clients.planner.post("/plans", json=problem_json() | {"sites": [{"id": "x"}]})
    assert shapeless.status_code == 422
    assert {"body.sites[0].capacity"} <= {e["field"] for e in shapeless.json()["errors"]}

    for calendar in ({"time_zone": "Mars/Olympus"}, {"holiday_country": "XX"}):
        odd = problem_json()
        odd["calendar"] |= calendar  # type: ignore[operator]
        refused = clients.planner.post("/plans", json=odd)
        assert refused.status_code == 422, refused.text
        assert next(iter(calendar)) in refused.json()["detail"]

    huge = problem_json()
    huge["sites"][0]["capacity"] = 2**40  # type: ignore[index]
    assert clients.planner.post("/plans", json=huge).status_code == 422
    malformed = clients.planner.post(
        "/plans", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code in (400, 422)
    assert malformed.headers["content-type"] == "application/problem+json"


def test_plan_settings_change_and_bad_ones_are_refused(clients: Clients) -> None:
    plan_id = new_plan(clients)
    changed = clients.planner.patch(
        f"/plans/{plan_id}",
        json={"publish_policy": "manual", "nightly_cron": "30 1 * * *", "name": "Spring"},
    )
    assert changed.status_code == 200
    assert (changed.json()["publish_policy"], changed.json()["name"]) == ("manual", "Spring")
    assert events(clients, plan_id)[-1] == "PlanChanged"
    for bad in ({"nightly_cron": "every night"}, {"name": None}, {"weights": {"fun": 3}}):
        refused = clients.planner.patch(f"/plans/{plan_id}", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["errors"]


def test_every_entity_can_be_added_read_replaced_changed_and_removed(clients: Clients) -> None:
    plan_id = new_plan(clients)
    base = f"/plans/{plan_id}"
    added: dict[str, dict[str, Any]] = {
        "sites": {"id": "s-3", "capacity": 12},
        "trainers": {"id": "t-4", "topics": ["law"]},
        "units": {"id": "u-3", "headcount": 50},
        "cohorts": {"id": "q-3", "unit": "u-3", "size": 8},
        "courses": {"id": "c-4", "sessions": 1, "topic": "law", "cohorts": ["q-3"]},
    }
    for collection, entity in added.items():
        created = clients.planner.post(f"{base}/{collection}", json=entity)
        assert created.status_code == 201, created.text
        assert created.headers["location"] == f"{base}/{collection}/{entity['id']}"
        url = f"{base}/{collection}/{entity['id']}"
        assert clients.viewer.get(url).json()["id"] == entity["id"]
        assert entity["id"] in [e["id"] for e in clients.viewer.get(f"{base}/{collection}").json()]
        duplicate = clients.planner.post(f"{base}/{collection}", json=entity)
        assert duplicate.status_code == 409

    replaced = clients.planner.put(f"{base}/sites/s-3", json={"id": "s-3", "capacity": 15})
    assert replaced.json()["capacity"] == 15
    renamed = clients.planner.put(f"{base}/sites/s-3", json={"id": "s-9", "capacity": 15})
    assert renamed.status_code == 409
    resized = clients.planner.patch(f"{base}/cohorts/q-3", json={"size": 9})
    assert resized.status_code == 200 and resized.json()["size"] == 9
    assert events(clients, plan_id)[-1] == "CohortResized"
    bad_patch = clients.planner.patch(f"{base}/cohorts/q-3", json={"size": -1})
    assert bad_patch.status_code == 422
    assert bad_patch.json()["errors"][0]["field"] == "body.size"

    in_use = clients.planner.delete(f"{base}/units/u-3")  # cohort q-3 belongs to it
    assert in_use.status_code == 422
    assert in_use.json()["errors"][0]["field"].startswith("cohorts[")
    assert clients.planner.delete(f"{base}/courses/c-4").status_code == 204
    assert events(clients, plan_id)[-1] == "CourseCancelled"
    for collection, key in (("cohorts", "q-3"), ("units", "u-3"), ("sites", "s-3")):
        assert clients.planner.delete(f"{base}/{collection}/{key}").status_code == 204
        assert clients.viewer.get(f"{base}/{collection}/{key}").status_code == 404


def test_named_changes_record_their_event_and_ask_for_a_repair(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = published_plan(clients, rt)
    base = f"/plans/{plan_id}"
    absence = {"window": WHOLE_PLAN, "reason": "sick leave"}
    dropped = clients.planner.post(f"{base}/trainers/t-1/unavailability", json=absence)
    assert dropped.status_code == 200 and dropped.json()["unavailable"][0]["reason"] == "sick leave"
    closed = clients.planner.post(f"{base}/sites/s-2/closures", json={"window": WHOLE_PLAN})
    assert closed.status_code == 200 and closed.json()["closures"]
    assert events(clients, plan_id)[-2:] == ["TrainerDroppedOut", "SiteClosed"]
    requests = clients.viewer.get(f"{base}/solve-requests").json()
    pending = [r for r in requests if r["status"] == "pending"]
    assert [r["purpose"] for r in pending] == ["repair"]
    assert "TrainerDroppedOut" in pending[0]["trigger"] and "SiteClosed" in pending[0]["trigger"]
    unknown = clients.planner.post(f"{base}/trainers/t-9/unavailability", json=absence)
    assert unknown.status_code == 404


def test_blackouts_and_pins_are_added_listed_and_removed_by_number(clients: Clients) -> None:
    plan_id = new_plan(clients)
    base = f"/plans/{plan_id}"
    blackout = {"scope": "unit", "target": "u-1", "window": WHOLE_PLAN, "hard": False}
    added = clients.planner.post(f"{base}/blackouts", json=blackout)
    assert added.status_code == 201
    number = added.json()["id"]
    assert [b["id"] for b in clients.viewer.get(f"{base}/blackouts").json()] == [number]
    wrong = clients.planner.post(f"{base}/blackouts", json=blackout | {"target": "u-9"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"].endswith(".target")
    assert clients.planner.delete(f"{base}/blackouts/{number}").status_code == 204
    assert clients.planner.delete(f"{base}/blackouts/{number}").status_code == 404

    pin = {"course": "c-1", "day": str(MONDAY), "period": 0, "site": "s-1"}
    pinned = clients.planner.post(f"{base}/pins", json=pin)
    assert pinned.status_code == 201 and pinned.json()["pin"]["course"] == "c-1"
    assert len(clients.viewer.get(f"{base}/pins").json()) == 1
    assert clients.planner.delete(f"{base}/pins/{pinned.json()['id']}").status_code == 204
    assert events(clients, plan_id)[-2:] == ["SessionPinned", "PinRemoved"]


def test_deleting_a_plan_takes_its_data_and_its_scoped_keys(clients: Clients) -> None:
    plan_id = new_plan(clients)
    scoped = clients.client(clients.key_for("viewer", plan_id))
    assert scoped.get(f"/plans/{plan_id}").status_code == 200
    assert clients.planner.delete(f"/plans/{plan_id}").status_code == 403  # admins only
    assert clients.admin.delete(f"/plans/{plan_id}").status_code == 204
    assert clients.admin.get(f"/plans/{plan_id}").status_code == 404
    assert scoped.get("/me").status_code == 401
