"""Delivery through real channels on loopback: an SMTP server (aiosmtpd) and an HTTP webhook
receiver started by the tests. Retries run on the fake clock: no sleeps."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from config.defaults import WEIGHTS
from scheduler import jobs
from scheduler.channels import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    read_outbox_file,
    sign,
    verify_signature,
)
from scheduler.plans import import_problem
from scheduler.runtime import Runtime
from scheduler.subscriptions import add_subscription
from scheduler.tables import Notification
from scheduler.versions import publish_placements
from solver.problem import Placement, Weights
from tests.scheduler.factories import MONDAY, FakeClock, make_problem

# --- The receivers -------------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook receiver that fails the first `failures` requests and, as the contract asks,
    processes each idempotency key once."""

    failures: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.requests.append((headers, body))
            if len(self.requests) <= self.failures:
                return 500
            self.processed.setdefault(headers[IDEMPOTENCY_HEADER], json.loads(body))
            return 200


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(state.handle(dict(self.headers.items()), body))
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/offseason"
    finally:
        server.shutdown()
        server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


# --- The tests -----------------------------------------------------------------------------


def publish_with_subscriptions(rt: Runtime, url: str) -> tuple[int, str]:
    """A plan whose imported schedule is version 1, with trainer t-1 on a webhook and unit u-1
    on email; returns the plan id and the webhook's secret."""
    previous = [
        Placement(course="c-1", session=0, day=MONDAY, period=0, site="s-1", trainer="t-1"),
        Placement(course="c-1", session=1, day=MONDAY, period=1, site="s-1", trainer="t-1"),
        Placement(course="c-2", session=0, day=MONDAY, period=0, site="s-2", trainer="t-3"),
        Placement(course="c-2", session=1, day=MONDAY, period=1, site="s-2", trainer="t-3"),
        Placement(
            course="c-3",
            session=0,
            day=MONDAY + dt.timedelta(days=1),
            period=0,
            site="s-1",
            trainer="t-2",
        ),
    ]
    with rt.sessions.begin() as session:
        plan_id = import_problem(session, make_problem(), now=rt.clock()).id
        hook = add_subscription(
            session,
            plan_id,
            channel="webhook",
            address=url,
            party_kind="trainer",
            party_id="t-1",
            now=rt.clock(),
        )
        add_subscription(
            session,
            plan_id,
            channel="email",
            address="office@u1.example",
            party_kind="unit",
            party_id="u-1",
            now=rt.clock(),
        )
        secret = hook.secret
        assert secret is not None
    with rt.sessions.begin() as session:
        publish_placements(
            session,
            plan_id,
            make_problem(),
            previous,
            weights=Weights.resolve(WEIGHTS, {}),
            now=rt.clock(),
            trigger="test",
            published_by="planner",
            last_event_id=0,
        )
    return plan_id, secret


def test_webhooks_and_emails_arrive_signed_and_a_flaky_receiver_gets_one_delivery(
    rt: Runtime,
    clock: FakeClock,
    receiver: tuple[Receiver, str],
    smtp: tuple[Mailbox, int],
) -> None:
    state, url = receiver
    state.failures = 2
    mailbox, port = smtp
    rt = Runtime(
        rt.engine,
        rt.sessions,
        rt.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port}),
        rt.http,
        clock,
    )
    plan_id, secret = publish_with_subscriptions(rt, url)

    jobs.deliver_due_notifications(rt)
    assert len(state.requests) == 1 and not state.processed
    assert len(mailbox.messages) == 1
    jobs.deliver_due_notifications(rt)  # the retry waits for its backoff
    assert len(state.requests) == 1
    clock.advance(rt.settings.delivery_backoff_seconds)
    jobs.deliver_due_notifications(rt)
    assert len(state.requests) == 2
    clock.advance(rt.settings.delivery_backoff_seconds)  # the backoff doubled: not yet
    jobs.deliver_due_notifications(rt)
    assert len(state.requests) == 2
    clock.advance(rt.settings.delivery_backoff_seconds)
    jobs.deliver_due_notifications(rt)
    assert len(state.requests) == 3

    keys = {headers[IDEMPOTENCY_HEADER] for headers, _ in state.requests}
    assert len(keys) == 1 and list(state.processed) == list(keys)
    for headers, body in state.requests:
        assert verify_signature(
            secret,
            body,
            signature=headers[SIGNATURE_HEADER],
            timestamp=headers[TIMESTAMP_HEADER],
            now=float(headers[TIMESTAMP_HEADER]),
        )
        assert not verify_signature(
            "wrong secret",
            body,
            signature=headers[SIGNATURE_HEADER],
            timestamp=headers[TIMESTAMP_HEADER],
            now=float(headers[TIMESTAMP_HEADER]),
        )
    (payload,) = state.processed.values()
    assert payload["party"] == {"kind": "trainer", "id": "t-1"}
    assert {c["course"] for c in payload["changes"]} == {"c-1"}

    (message,) = mailbox.messages
    assert message["To"] == "office@u1.example" and "2 session(s)" in message["Subject"]
    assert "Rule of law" in message.get_content() and message[IDEMPOTENCY_HEADER]
    assert message["Message-ID"] == f"<{message[IDEMPOTENCY_HEADER]}@offseason>"

    with rt.sessions.begin() as session:
        rows = {
            (n.party_kind, n.party_id): n
            for n in session.scalars(select(Notification).where(Notification.plan_id == plan_id))
        }
        hook = rows[("trainer", "t-1")]
        assert (hook.status, hook.attempts, hook.channel) == ("delivered", 3, "webhook")
        assert hook.idempotency_key in keys
        assert rows[("unit", "u-1")].channel == "email"
        others = [n for key, n in rows.items() if key not in {("trainer", "t-1"), ("unit", "u-1")}]
        assert others and all(n.channel == "default" and n.status == "delivered" for n in others)
    lines = read_outbox_file(rt.settings.outbox_dir)
    assert sorted((x["party"]["kind"], x["party"]["id"]) for x in lines) == sorted(
        (n.party_kind, n.party_id) for n in others
    )


def test_a_dead_receiver_is_given_up_after_the_last_attempt(
    rt: Runtime, clock: FakeClock, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.failures = 100
    rt = Runtime(
        rt.engine,
        rt.sessions,
        rt.settings.model_copy(update={"delivery_max_attempts": 3}),
        rt.http,
        clock,
    )
    publish_with_subscriptions(rt, url)
    for _ in range(6):
        jobs.deliver_due_notifications(rt)
        clock.advance(3600)
    assert len(state.requests) == 3
    with rt.sessions.begin() as session:
        hook = session.scalar(select(Notification).where(Notification.channel == "webhook"))
        assert hook is not None and hook.status == "dead" and "HTTP 500" in (hook.last_error or "")


def test_a_signature_binds_the_timestamp_and_the_body() -> None:
    body = b'{"a":1}'
    signature = sign("s3cret", 1_700_000_000, body)
    ok = {"signature": signature, "timestamp": "1700000000", "now": 1_700_000_100.0}
    assert verify_signature("s3cret", body, **ok)  # type: ignore[arg-type]
    assert not verify_signature("s3cret", b'{"a":2}', **ok)  # type: ignore[arg-type]
    assert not verify_signature(
        "s3cret", body, signature=signature, timestamp="1700000001", now=1_700_000_100.0
    )
    assert not verify_signature(  # replayed an hour later
        "s3cret", body, signature=signature, timestamp="1700000000", now=time.time()
    )
