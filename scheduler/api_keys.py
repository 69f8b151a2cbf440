"""API keys: issued once in clear, stored only as a SHA-256 hash with a short display prefix.

Keys are 256-bit random tokens, so a plain hash is enough (no slow hash is needed against
guessing); lookups are by hash, so verification costs one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.errors import NotFound
from scheduler.tables import ApiKey

Role = Literal["read", "write", "admin"]
PREFIX = "osk_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(
    session: Session, name: str, *, role: Role = "read", now: dt.datetime
) -> tuple[ApiKey, str]:
    """A new key: the row, and the key in clear (shown once, never stored)."""
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        prefix=key[:12],
        key_hash=token_hash(key),
        role=role,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, key


def verify_api_key(session: Session, key: str, *, now: dt.datetime) -> ApiKey | None:
    """The key's row if it is valid and not revoked (and note its use), else None."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == token_hash(key)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = now
    return row


def revoke_api_key(session: Session, key_id: int, *, now: dt.datetime) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
