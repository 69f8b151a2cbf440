"""API keys and feed tokens are stored only as hashes; subscriptions validate their address."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.api_keys import create_api_key, list_api_keys, revoke_api_key, verify_api_key
from scheduler.errors import NotFound
from scheduler.feeds import create_feed_token, resolve_feed_token, revoke_feed_token
from scheduler.plans import import_problem
from scheduler.subscriptions import add_subscription, list_subscriptions, remove_subscription
from scheduler.tables import ApiKey, FeedToken
from tests.scheduler.factories import make_problem

NOW = dt.datetime(2027, 2, 1, 9, tzinfo=dt.UTC)


def test_api_keys_verify_until_revoked_and_are_never_stored_in_clear(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        row, key = create_api_key(session, "unit office", role="write", now=NOW)
        key_id = row.id
    with sessions.begin() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert key not in (stored.key_hash, stored.prefix) and key.startswith(stored.prefix)
        found = verify_api_key(session, key, now=NOW)
        assert found is not None and found.role == "write" and found.last_used_at == NOW
        assert verify_api_key(session, key + "x", now=NOW) is None
        revoke_api_key(session, key_id, now=NOW)
    with sessions.begin() as session:
        assert verify_api_key(session, key, now=NOW) is None
        assert [k.name for k in list_api_keys(session)] == ["unit office"]


def test_feed_tokens_resolve_until_revoked(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan_id = import_problem(session, make_problem(), now=NOW).id
        row, token = create_feed_token(session, plan_id, "trainer", "t-1", now=NOW)
        assert session.scalars(select(FeedToken.token_hash)).one() != token
        assert resolve_feed_token(session, token).party_id == "t-1"
        revoke_feed_token(session, plan_id, row.id, now=NOW)
        with pytest.raises(NotFound):
            resolve_feed_token(session, token)
        with pytest.raises(ValueError):
            create_feed_token(session, plan_id, "trainer", None, now=NOW)


def test_subscriptions_check_their_address(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan_id = import_problem(session, make_problem(), now=NOW).id
        hook = add_subscription(
            session, plan_id, channel="webhook", address="https://example.org/h", now=NOW
        )
        assert hook.secret and len(hook.secret) >= 32
        with pytest.raises(ValueError):
            add_subscription(session, plan_id, channel="email", address="nobody", now=NOW)
        with pytest.raises(ValueError):
            add_subscription(
                session,
                plan_id,
                channel="webhook",
                address="ftp://x",
                party_kind="unit",
                party_id="u-1",
                now=NOW,
            )
        remove_subscription(session, plan_id, hook.id)
        assert [s.active for s in list_subscriptions(session, plan_id)] == [False]
