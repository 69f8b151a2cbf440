"""Webhook and email subscriptions managed through the API, and the notifications a publication
queues for them."""

from __future__ import annotations

from sqlalchemy import update

from scheduler.runtime import Runtime
from scheduler.tables import Notification
from tests.api.conftest import Clients, published_plan, run_worker
from tests.scheduler.factories import MONDAY

HOOK = {"channel": "webhook", "address": "https://example.org/hook"}


def test_subscriptions_are_added_read_and_removed(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    base = f"/plans/{plan_id}/subscriptions"
    hook = clients.planner.post(base, json=HOOK | {"secret": "s" * 20})
    assert hook.status_code == 201 and hook.json()["secret"] == "s" * 20
    mail = clients.planner.post(
        base,
        json={
            "channel": "email",
            "address": "office@example.org",
            "party_kind": "unit",
            "party_id": "u-1",
        },
    )
    assert mail.status_code == 201 and mail.json()["secret"] is None
    listed = clients.viewer.get(base).json()
    assert [(s["channel"], s["party_kind"], s["active"]) for s in listed] == [
        ("webhook", "plan", True),
        ("email", "unit", True),
    ]
    assert clients.planner.delete(f"{base}/{hook.json()['id']}").status_code == 204
    assert clients.viewer.get(f"{base}/{hook.json()['id']}").json()["active"] is False
    assert clients.viewer.get(f"{base}/999").status_code == 404


def test_bad_subscriptions_are_refused(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    base = f"/plans/{plan_id}/subscriptions"
    for body, status in (
        ({"channel": "webhook", "address": "ftp://example.org"}, 422),
        ({"channel": "email", "address": "nobody"}, 422),
        (HOOK | {"party_kind": "trainer"}, 422),  # a trainer's needs the trainer
        (HOOK | {"party_kind": "trainer", "party_id": "t-9"}, 404),
        (HOOK | {"secret": "short"}, 422),
    ):
        answer = clients.planner.post(base, json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"


def test_a_publication_queues_a_notification_for_each_concerned_subscription(
    clients: Clients, rt: Runtime
) -> None:
    plan_id = published_plan(clients, rt)
    base = f"/plans/{plan_id}"
    for party in ("t-1", "t-2", "t-3"):
        clients.planner.post(
            f"{base}/subscriptions", json=HOOK | {"party_kind": "trainer", "party_id": party}
        )
    taught = {s["trainer"] for s in clients.viewer.get(f"{base}/schedule").json()["items"]}
    gone = sorted(taught)[0]
    window = {"first": str(MONDAY), "last": "2027-03-12"}
    clients.planner.post(f"{base}/trainers/{gone}/unavailability", json={"window": window})
    clients.planner.post(f"{base}/solve-requests", json={"mode": "repair"})
    run_id = max(run_worker(rt))
    assert clients.planner.post(f"{base}/versions", json={"run": run_id}).status_code == 201
    queued = clients.viewer.get(f"{base}/notifications", params={"status": "pending"}).json()
    hooks = {n["party_id"] for n in queued if n["channel"] == "webhook" and n["version_id"]}
    changes = clients.viewer.get(f"{base}/versions/2/changes").json()
    concerned = {slot["trainer"] for c in changes for slot in (c["old"], c["new"]) if slot}
    assert gone in hooks and hooks == concerned & {"t-1", "t-2", "t-3"}


def test_only_a_dead_notification_can_be_retried(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    base = f"/plans/{plan_id}/notifications"
    first = clients.viewer.get(base).json()[0]
    assert first["status"] == "pending"
    assert clients.planner.post(f"{base}/{first['id']}/retry").status_code == 409
    with rt.sessions.begin() as session:
        session.execute(
            update(Notification).where(Notification.id == first["id"]).values(status="dead")
        )
    retried = clients.planner.post(f"{base}/{first['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert clients.planner.post(f"{base}/99999/retry").status_code == 404
