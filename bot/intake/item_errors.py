"""What a rejected API item is told: its first few problems, each cut short, then how many
more. An item can have thousands (one per unknown field), each naming a path the sender
chose; listed in full, a 448 KB batch was answered with 6.8 MB. Pure."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

MAX_ERRORS_SHOWN = 3
MAX_WHERE_CHARS = 80
MAX_MESSAGE_CHARS = 160


def describe(exc: ValidationError, *, unlisted: int = 0) -> str:
    """One short line for a validation error: `field: problem; field: problem`, its first
    few problems, each cut to a bounded length, then how many more there were (with
    `unlisted` problems found but not given to pydantic)."""
    parts = []
    # Input and context are not shown, so not copied out of pydantic-core for each error.
    for error in exc.errors(include_url=False, include_context=False, include_input=False)[
        :MAX_ERRORS_SHOWN
    ]:
        where = ".".join(str(part) for part in error["loc"]) or "event"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a known field"
        parts.append(f"{_cut(where, MAX_WHERE_CHARS)}: {_cut(message, MAX_MESSAGE_CHARS)}")
    more = exc.error_count() + unlisted - len(parts)
    if more:
        parts.append(f"and {more:,} more")
    return "; ".join(parts)


def fewer_unknown_fields(
    item: Any, event_fields: frozenset[str], user_fields: frozenset[str]
) -> tuple[Any, int]:
    """The item with all but its first few unknown fields (its own and its user's) left out,
    and how many were: each is an error of its own, and listing 90,000 of them cost pydantic
    a second. The item is rejected all the same, for the unknown fields it keeps."""
    if not isinstance(item, dict):
        return item, 0
    item, dropped = _drop_unknown(item, event_fields)
    user = item.get("user")
    if isinstance(user, dict):
        user, dropped_from_user = _drop_unknown(user, user_fields)
        if dropped_from_user:
            item, dropped = {**item, "user": user}, dropped + dropped_from_user
    return item, dropped


def _drop_unknown(fields: dict[str, Any], known: frozenset[str]) -> tuple[dict[str, Any], int]:
    if len(fields) <= len(known) + MAX_ERRORS_SHOWN:
        return fields, 0  # too few keys for many unknown ones: the common case, not copied
    unknown = [key for key in fields if key not in known]
    if len(unknown) <= MAX_ERRORS_SHOWN:
        return fields, 0
    kept = {key: fields[key] for key in known if key in fields}
    kept.update((key, fields[key]) for key in unknown[:MAX_ERRORS_SHOWN])
    return kept, len(unknown) - MAX_ERRORS_SHOWN


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
