"""Minimum data at the doors: which event attributes may ever be stored. Pure rules."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from storage.records import UsageEvent

# What a tool may tell us about an event beyond its figures, by default: enough to tell
# models, editors and languages apart, nothing about what was written or where.
DEFAULT_KEEP_ATTRIBUTES = ("model", "client", "client_version", "language", "ide")

# Names that carry what a person wrote or worked on. They are never stored, whatever an
# operator lists in AIUSAGE_KEEP_ATTRIBUTES.
NEVER_KEPT = re.compile(
    r"prompt|response|completion|content|message|text|body|query|input|output|code|diff|"
    r"file|path|dir|repo|branch|url|uri|email|user|name|title|comment|command|arg",
    re.IGNORECASE,
)
MAX_NAME = 64


def check_keep_attributes(names: Collection[str]) -> None:
    """Raise ValueError for an allowlist that names something never stored."""
    for name in names:
        if len(name) > MAX_NAME or NEVER_KEPT.search(name):
            raise ValueError(
                f"{name[:MAX_NAME]!r} can carry what people wrote or worked on, or who they "
                "are, and is never stored"
            )


def keep_attributes(
    attributes: Mapping[str, Any] | None, allowed: Collection[str]
) -> dict[str, Any] | None:
    """Only the allowed attributes, and None when none are left."""
    if not attributes:
        return None
    kept = {k: v for k, v in attributes.items() if k in allowed and not NEVER_KEPT.search(k)}
    return kept or None


def minimal(events: list[UsageEvent], allowed: Collection[str]) -> list[UsageEvent]:
    """The events with only their allowed attributes: what reaches the database."""
    return [
        replace(event, attributes=keep_attributes(event.attributes, allowed))
        if event.attributes
        else event
        for event in events
    ]
