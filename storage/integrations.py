"""Integrations and their API keys. Keys are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.compiled import CompiledRead
from storage.db import Database
from storage.models import IntegrationRow
from storage.records import Integration

KEY_PREFIX = "aiu"


class IntegrationExists(Exception):
    pass


def create_integration(db: Database, name: str, now: datetime) -> tuple[Integration, str]:
    """Register an integration; returns it with its API key, which is never stored."""
    key_id, secret = _new_key()
    try:
        with db.write() as conn:
            conn.execute(
                insert(IntegrationRow).values(
                    name=name, key_id=key_id, key_hash=_hash(secret), created_at=now
                )
            )
    except IntegrityError:
        raise IntegrationExists(name) from None
    found = get_integration(db, name)
    assert found is not None
    return found, f"{KEY_PREFIX}_{key_id}_{secret}"


def renew_integration(db: Database, name: str) -> tuple[Integration, str] | None:
    """Give a revoked integration a new API key and make it active again; None if there is
    no revoked integration of that name. The row is kept, so its events, duplicates and
    figures carry on under the name; the old key's id is gone, so that key stays refused."""
    key_id, secret = _new_key()
    with db.write() as conn:
        renewed = conn.execute(
            update(IntegrationRow)
            .where(IntegrationRow.name == name, IntegrationRow.revoked_at.is_not(None))
            .values(key_id=key_id, key_hash=_hash(secret), revoked_at=None)
        ).rowcount
    if renewed != 1:
        return None
    found = get_integration(db, name)
    assert found is not None
    return found, f"{KEY_PREFIX}_{key_id}_{secret}"


def _new_key() -> tuple[str, str]:
    return secrets.token_hex(6), secrets.token_urlsafe(32)


def authenticate(db: Database, api_key: str) -> Integration | None:
    """The active integration this key belongs to, or None."""
    prefix, _, rest = api_key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        return None
    with db.read() as conn:
        rows = _BY_KEY_ID.rows(conn, {"key_id": key_id})
    if not rows:
        return None
    id_, name, key_hash, created_at, revoked_at, last_event_at = rows[0]
    if not hmac.compare_digest(key_hash, _hash(secret)):
        return None
    return None if revoked_at else Integration(id_, name, created_at, revoked_at, last_event_at)


# Compiled once: every request to the API and the OTLP doors checks its key, twice (before
# and after its body); through SQLAlchemy's execution a check cost 140 µs, most of it there.
_BY_KEY_ID = CompiledRead(
    select(
        IntegrationRow.id,
        IntegrationRow.name,
        IntegrationRow.key_hash,
        IntegrationRow.created_at,
        IntegrationRow.revoked_at,
        IntegrationRow.last_event_at,
    ).where(IntegrationRow.key_id == bindparam("key_id"))
)


def list_integrations(db: Database) -> list[Integration]:
    with db.read() as conn:
        rows = conn.execute(select(IntegrationRow).order_by(IntegrationRow.name)).all()
    return [_record(row) for row in rows]


def get_integration(db: Database, name: str) -> Integration | None:
    with db.read() as conn:
        row = conn.execute(select(IntegrationRow).where(IntegrationRow.name == name)).one_or_none()
    return _record(row) if row else None


def revoke_integration(db: Database, name: str, now: datetime) -> bool:
    """Revoke by name; False if there is no such active integration."""
    with db.write() as conn:
        result = conn.execute(
            update(IntegrationRow)
            .where(IntegrationRow.name == name, IntegrationRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return result.rowcount == 1


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough; no salt or stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def _record(row) -> Integration:
    return Integration(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_event_at=row.last_event_at,
    )
