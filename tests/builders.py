"""Small builders for the payloads tests send."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


def event(**fields: Any) -> dict[str, Any]:
    """A valid event for U_ALICE at noon on 2026-11-18 UTC, with `fields` overriding."""
    body: dict[str, Any] = {
        "event_id": f"evt-{next(_ids)}",
        "user": {"slack_user_id": "UALICE"},
        "occurred_at": "2026-11-18T12:00:00Z",
        "tool": "claude-code",
        "kind": "agent",
        "input_tokens": 100,
        "output_tokens": 50,
    }
    body.update(fields)
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
