"""Signed, expiring tokens naming one person's chart, for `GET /charts/<token>`.

A chart image URL must be fetchable by Slack without a login, yet show nobody's figures to
anyone who merely guesses. The token carries what to draw (person, week, chart kind) and until
when, MACed with a key derived from the Slack signing secret: it cannot be forged or altered,
and it stops working at its expiry. Pure: no database, no Slack, no web framework.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.bounds import SLACK_USER_ID

# Home is re-published on every open, each time with a fresh token, so a short life is enough;
# Slack fetches (and caches) the image when the view is published.
TOKEN_TTL = timedelta(hours=24)
_KEY_LABEL = b"aiusage chart tokens v2"  # v2 names the Slack user
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_WEEK = re.compile(r"^\d{4}-W\d{2}$")
MAX_TOKEN = 200


@dataclass(frozen=True, slots=True)
class ChartRef:
    """Which chart a token grants: a person's chart of `kind` for the weeks up to `week`."""

    person_id: int
    week: str  # ISO week label, e.g. 2026-W47
    kind: str
    # Whose person row it was when signed: a row id SQLite reuses after a forget must not
    # show the next person's chart to a holder of the old link.
    slack_user_id: str


def chart_key(signing_secret: str) -> bytes:
    """The MAC key: derived, so the signing secret itself never signs anything else."""
    return hmac.new(signing_secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def sign(key: bytes, ref: ChartRef, now: datetime, ttl: timedelta = TOKEN_TTL) -> str:
    """A URL-safe token for `ref`, valid until `now + ttl`."""
    if (
        not _KIND.match(ref.kind)
        or not _WEEK.match(ref.week)
        or not SLACK_USER_ID.fullmatch(ref.slack_user_id)
        or ref.person_id < 0
    ):
        raise ValueError(f"cannot sign {ref!r}")
    expires = int((now + ttl).timestamp())
    payload = f"{ref.person_id}.{ref.slack_user_id}.{ref.week}.{ref.kind}.{expires}".encode()
    return _b64(payload) + "." + _b64(_mac(key, payload))


def verify(key: bytes, token: str, now: datetime) -> ChartRef | None:
    """The chart a token grants, or None when it is malformed, altered, forged or expired."""
    if len(token) > MAX_TOKEN or token.count(".") != 1:
        return None
    body, _, mac = token.partition(".")
    try:
        payload = _unb64(body)
        given = _unb64(mac)
    except ValueError:
        return None
    if _b64(payload) != body or _b64(given) != mac:
        return None  # only the one spelling we issue: spare base64 bits must not alias it
    if not hmac.compare_digest(given, _mac(key, payload)):
        return None
    try:
        person, user, week, kind, expires = payload.decode("ascii").split(".")
        person_id, expiry = int(person), int(expires)
    except ValueError:
        return None
    if now.timestamp() >= expiry:
        return None
    return ChartRef(person_id, week, kind, user)


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
