"""Security: keys stored hashed, roles and plan scopes enforced, feed tokens that read only their
own feed, request size limits, problem+json errors, and no secrets in logs."""

from __future__ import annotations

import logging

from sqlalchemy import select

from api.bodies import MAX_BODY_BYTES
from api.redaction import RedactFeedTokens
from scheduler.runtime import Runtime
from scheduler.tables import ApiKey, Subscription
from tests.api.conftest import Clients, problem_json, published_plan


def test_requests_without_a_valid_key_are_401_problems(clients: Clients) -> None:
    for headers in ({}, {"Authorization": "Bearer osk_nope"}, {"X-API-Key": "osk_nope"}):
        answer = clients.anonymous.get("/plans", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"] == "Bearer"
    by_header = clients.anonymous.get("/me", headers={"X-API-Key": clients.keys["viewer"]})
    assert by_header.status_code == 200 and by_header.json()["role"] == "viewer"
    assert clients.anonymous.get("/health").status_code == 200  # the only open route


def test_keys_are_shown_once_and_stored_only_as_hashes(clients: Clients) -> None:
    made = clients.admin.post("/api-keys", json={"name": "unit office", "role": "viewer"})
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith(made.json()["prefix"])
    listed = clients.admin.get("/api-keys").json()
    assert all("key" not in k for k in listed) and key not in str(listed)
    with clients.anonymous.app.state.wiring.sessions.begin() as session:  # type: ignore[attr-defined]
        stored = session.scalars(select(ApiKey.key_hash)).all()
    assert key not in stored and len(stored) == 4
    assert clients.client(key).get("/me").json()["name"] == "unit office"


def test_viewers_read_planners_write_admins_manage_keys(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    assert clients.viewer.get(f"/plans/{plan_id}/schedule").status_code == 200
    writes = [
        ("post", "/plans", problem_json()),
        ("patch", f"/plans/{plan_id}", {"name": "x"}),
        ("post", f"/plans/{plan_id}/sites", {"id": "s-9", "capacity": 3}),
        ("post", f"/plans/{plan_id}/solve-requests", {}),
        ("post", f"/plans/{plan_id}/feeds", {"kind": "plan"}),
        (
            "post",
            f"/plans/{plan_id}/subscriptions",
            {"channel": "webhook", "address": "https://example.org/h"},
        ),
    ]
    for method, url, body in writes:
        answer = getattr(clients.viewer, method)(url, json=body)
        assert answer.status_code == 403, (url, answer.text)
        assert answer.json()["type"] == "urn:offseason:forbidden"
    assert clients.planner.get("/api-keys").status_code == 403
    assert clients.planner.post("/api-keys", json={"name": "x", "role": "admin"}).status_code == 403
    assert clients.admin.get("/api-keys").status_code == 200


def test_a_key_scoped_to_a_plan_sees_and_touches_only_that_plan(
    clients: Clients, rt: Runtime
) -> None:
    mine, other = published_plan(clients, rt), published_plan(clients, rt)
    scoped = clients.client(clients.key_for("planner", mine))
    assert [p["id"] for p in scoped.get("/plans").json()] == [mine]
    assert scoped.get(f"/plans/{mine}/schedule").status_code == 200
    assert scoped.get(f"/plans/{other}/schedule").status_code == 403
    assert scoped.post(f"/plans/{other}/solve-requests", json={}).status_code == 403
    other_run = clients.viewer.get(f"/plans/{other}/runs").json()[0]["id"]
    assert scoped.get(f"/runs/{other_run}").status_code == 403
    assert scoped.post("/plans", json=problem_json()).status_code == 403
    made = clients.admin.post("/api-keys", json={"name": "u", "role": "viewer", "plan_id": mine})
    assert made.json()["plan_id"] == mine


def test_a_revoked_key_stops_at_once(clients: Clients) -> None:
    made = clients.admin.post("/api-keys", json={"name": "temp", "role": "viewer"}).json()
    client = clients.client(made["key"])
    assert client.get("/me").status_code == 200  # now remembered by the process
    assert clients.admin.delete(f"/api-keys/{made['id']}").status_code == 204
    assert client.get("/me").status_code == 401


def test_a_feed_token_reads_its_own_feed_only_until_revoked(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    issued = clients.planner.post(f"/plans/{plan_id}/feeds", json={"kind": "unit", "id": "u-1"})
    feed, token = issued.json(), issued.json()["token"]
    assert clients.anonymous.get(feed["url"]).status_code == 200
    assert token not in clients.viewer.get(f"/plans/{plan_id}/feeds").text
    as_key = clients.anonymous.get(
        f"/plans/{plan_id}/schedule", headers={"Authorization": f"Bearer {token}"}
    )
    assert as_key.status_code == 401  # a feed token is no API key
    wrong = token[:-1] + ("x" if token[-1] != "x" else "y")  # a token may itself end in x
    assert clients.anonymous.get(f"/feeds/{wrong}.ics").status_code == 404
    unknown = clients.planner.post(f"/plans/{plan_id}/feeds", json={"kind": "unit", "id": "u-9"})
    assert unknown.status_code == 404
    assert clients.planner.delete(f"/plans/{plan_id}/feeds/{feed['id']}").status_code == 204
    assert clients.anonymous.get(feed["url"]).status_code == 404


def test_oversized_bodies_are_refused_with_413(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    big = {"id": "s-9", "capacity": 3, "name": "x" * MAX_BODY_BYTES}
    answer = clients.planner.post(f"/plans/{plan_id}/sites", json=big)
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    chunks = iter([b'{"id": "s-9", "capacity": 3, "name": "', b"x" * MAX_BODY_BYTES, b'"}'])
    streamed = clients.planner.post(  # no Content-Length: counted as it arrives
        f"/plans/{plan_id}/sites", content=chunks, headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == "application/problem+json"
    # A whole problem file may be larger than other bodies.
    roomy = problem_json() | {
        "name": "y" * 100,
        "sites": [
            *problem_json()["sites"],
            {"id": "s-9", "capacity": 3, "name": "x" * MAX_BODY_BYTES},  # type: ignore[misc]
        ],
    }
    assert clients.planner.post("/plans", json=roomy).status_code == 201


def test_webhook_secrets_are_shown_once(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    made = clients.planner.post(
        f"/plans/{plan_id}/subscriptions",
        json={
            "channel": "webhook",
            "address": "https://example.org/hook",
            "party_kind": "trainer",
            "party_id": "t-1",
        },
    )
    assert made.status_code == 201 and len(made.json()["secret"]) >= 32
    secret = made.json()["secret"]
    assert secret not in clients.viewer.get(f"/plans/{plan_id}/subscriptions").text
    assert secret not in clients.viewer.get(made.headers["location"]).text
    with clients.anonymous.app.state.wiring.sessions.begin() as session:  # type: ignore[attr-defined]
        assert session.scalars(select(Subscription.secret)).one() == secret  # the signer needs it


def test_feed_tokens_never_reach_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/feeds/AbCdEfGh12345678.ics?x=1", "1.1", 200),
        None,
    )
    assert RedactFeedTokens().filter(record)
    assert "AbCdEfGh" not in record.getMessage() and "/feeds/***" in record.getMessage()


def test_api_keys_never_reach_the_event_log(clients: Clients, rt: Runtime) -> None:
    plan_id = published_plan(clients, rt)
    logged = clients.viewer.get(f"/plans/{plan_id}/events").text
    assert all(key not in logged for key in clients.keys.values())
    assert "api-key" in logged
