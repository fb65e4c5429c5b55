"""The `/api/v1/events` payload: validation of a body into events and per-item rejections."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from bot.intake import json_text
from bot.intake.body_limits import TooComplex, check_json_depth, check_json_values
from bot.intake.item_errors import describe, fewer_unknown_fields
from storage import bounds
from storage.figures import NAMES, figures_of
from storage.records import UsageEvent, UserRef

MAX_BATCH = 1000
MAX_BODY_BYTES = 1024 * 1024
# Checked on the bytes before parsing: 1,000 events of ~20 fields and 32 attributes fit.
MAX_JSON_VALUES = 100_000
_ESCAPED_NUL = b"\\u0000"
MAX_DEPTH = 8  # {"events": [{"user": {...}}]} is four deep; attribute values are flat
FUTURE_LEEWAY = bounds.FUTURE_LEEWAY

Count = Annotated[StrictInt, Field(ge=0, le=bounds.MAX_COUNT)]
# A timestamp written as one: pydantic alone also reads a number, or a string of digits, as
# Unix time. Checked in pydantic-core before it parses the time, so it costs the quick path
# no Python call.
_TIMESTAMP_TEXT = core_schema.custom_error_schema(
    core_schema.str_schema(pattern=r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}"),
    "rfc3339",
    custom_error_message="must be an RFC 3339 timestamp with offset, such as "
    "2026-11-18T09:30:00+01:00",
)
Timestamp = Annotated[
    AwareDatetime,
    GetPydanticSchema(
        lambda kind, handler: core_schema.chain_schema([_TIMESTAMP_TEXT, handler(kind)])
    ),
    Field(description="RFC 3339 timestamp with offset", json_schema_extra={"format": "date-time"}),
]
# A blank tool is a tool nobody can name in the figures, and one more beside the rest.
_NOT_BLANK = core_schema.custom_error_schema(
    core_schema.str_schema(pattern=r"\S"), "blank", custom_error_message="must not be blank"
)
ToolName = Annotated[
    str,
    Field(min_length=1, max_length=64),
    GetPydanticSchema(lambda kind, handler: core_schema.chain_schema([handler(kind), _NOT_BLANK])),
]
# One error for a value of no allowed type, not one for each type it is not (four of them):
# a batch of list values was answered with 15 times its size in errors.
_ATTRIBUTE_VALUE_ERROR = "must be a string, number, true, false or null"
AttributeValue = Annotated[
    str | int | float | bool | None,
    GetPydanticSchema(
        lambda kind, handler: core_schema.custom_error_schema(
            handler(kind), "attribute_value", custom_error_message=_ATTRIBUTE_VALUE_ERROR
        )
    ),
]


class _UserFields(BaseModel):
    """The user's fields with only the checks pydantic-core makes itself (see `_QuickBatch`)."""

    model_config = ConfigDict(extra="forbid")
    slack_user_id: str | None = Field(None, pattern=bounds.SLACK_USER_ID.pattern)
    email: str | None = Field(
        None, max_length=bounds.MAX_EMAIL_CHARS, json_schema_extra={"format": "email"}
    )


class UserIn(_UserFields):
    """Who the event belongs to."""

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return None if value is None else bounds.email(value)

    @model_validator(mode="after")
    def _one_of(self) -> UserIn:
        if not self.slack_user_id and not self.email:
            raise ValueError("give slack_user_id or email")
        return self


class _EventFields(BaseModel):
    """An event's fields with only the checks pydantic-core makes itself (see `_QuickBatch`)."""

    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(min_length=1, max_length=128)
    user: _UserFields
    occurred_at: Timestamp
    tool: ToolName | None = None
    kind: Literal["chat", "inline_suggestion", "agent", "completion", "other"] = "other"
    model: str | None = Field(None, max_length=128)
    requests: Count = 1
    input_tokens: Count = 0
    output_tokens: Count = 0
    suggestions_shown: Count | None = None
    suggestions_accepted: Count | None = Field(
        None, description="at most suggestions_shown, which must be given with it"
    )
    lines_accepted: Count | None = None
    cost_usd: StrictFloat | None = Field(None, ge=0, le=bounds.MAX_COST_USD)
    commits: Count | None = Field(None, description="commits made with the tool")
    pull_requests: Count | None = Field(None, description="pull requests made with the tool")
    attributes: dict[Annotated[str, Field(max_length=64)], AttributeValue] | None = Field(
        None,
        max_length=32,
        fail_fast=True,  # the first bad key or value is named; the rest cost nothing
        description="flat object, at most 32 keys; only those in AIUSAGE_KEEP_ATTRIBUTES "
        "are stored",
    )


class EventIn(_EventFields):
    """One usage event as an integration sends it."""

    user: UserIn

    @field_validator("occurred_at")
    @classmethod
    def _not_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = (info.context or {}).get("now")
        if now is None:
            return value
        try:
            return bounds.moment("occurred_at", value, now)
        except bounds.OutOfBounds as exc:
            raise ValueError(str(exc).removeprefix("occurred_at ")) from None

    @field_validator("event_id", "tool", "model")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL's text cannot hold it: unnamed, it failed the whole batch there.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain the NUL character (\\u0000)")
        return value

    @field_validator("cost_usd")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        # -0.0 passes `ge=0`, and PostgreSQL keeps its sign: reports printed "-0.0".
        return 0.0 if value == 0 else value

    @field_validator("attributes")
    @classmethod
    def _small_values(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key, item in (value or {}).items():
            if isinstance(item, str) and len(item) > 256:
                raise ValueError(f"attribute {key!r} is longer than 256 characters")
        return value

    @model_validator(mode="after")
    def _accepted_not_above_shown(self) -> EventIn:
        # Accepted without shown would slip past the rule per event and break it in the sum
        # (one event 100 of 100, another 10,000 of nothing: 10,100% acceptance).
        shown, accepted = self.suggestions_shown, self.suggestions_accepted
        if accepted is not None and shown is None:
            raise ValueError("suggestions_accepted needs suggestions_shown beside it")
        if shown is not None and accepted is not None and accepted > shown:
            raise ValueError("suggestions_accepted is more than suggestions_shown")
        return self


class EventBatchIn(BaseModel):
    """A batch of 1 to 1,000 events."""

    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class _QuickBatch(BaseModel):
    """The batch as pydantic-core alone checks it, with no Python validator called per event:
    the fast path for a clean batch. `_quick_record` then makes the checks of EventIn's Python
    validators inline; a batch failing any of them takes the item-by-item path, where EventIn
    names each bad item. So both paths accept exactly the same events."""

    model_config = ConfigDict(extra="forbid")
    events: list[_EventFields] = Field(min_length=1, max_length=MAX_BATCH)


_EVENT_FIELDS = frozenset(EventIn.model_fields)
_USER_FIELDS = frozenset(UserIn.model_fields)


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    event_id: str | None
    error: str


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    events: list[UsageEvent]
    positions: list[int]  # where each event stood in the request
    rejected: list[Rejection]


class BadBody(Exception):
    """The body as a whole is unusable; nothing from it is stored."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_body(body: bytes, *, default_tool: str, now: datetime) -> ParsedBatch:
    """Turn a request body into valid events plus named rejections for the bad items."""
    context = {"now": now}
    try:
        check_json_values(body, max_values=MAX_JSON_VALUES)
    except TooComplex as exc:
        raise BadBody(exc.status, exc.message) from None
    # The common case, a batch with nothing wrong, validates in one call; anything else
    # takes the item-by-item path below, which names each bad item. So does a body with an
    # escaped NUL anywhere (JSON can carry it no other way), for EventIn's check of it.
    # Depth is checked only on that path: the quick model is four levels deep, so a body it
    # takes nests no deeper, and pydantic-core's parser refuses deep nesting at once (its
    # own limit); the check cost a twentieth of the API's time on clean batches.
    quick = None
    if _ESCAPED_NUL not in body:
        with suppress(ValidationError):
            quick = _QuickBatch.model_validate_json(body)
    if quick is not None:
        latest = now + FUTURE_LEEWAY
        clean = [_quick_record(event, default_tool, latest) for event in quick.events]
        if None not in clean:
            return ParsedBatch(clean, list(range(len(clean))), [])  # type: ignore[arg-type]
    try:
        check_json_depth(body, max_depth=MAX_DEPTH)
    except TooComplex as exc:
        raise BadBody(exc.status, exc.message) from None
    try:
        data = json_text.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadBody(400, f"body is not valid JSON: {exc}") from None
    items = _items(data)
    events: list[UsageEvent] = []
    positions: list[int] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(items):
        checked, unlisted = fewer_unknown_fields(item, _EVENT_FIELDS, _USER_FIELDS)
        try:
            parsed = EventIn.model_validate(checked, context=context)
        except ValidationError as exc:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            rejected.append(
                Rejection(
                    index,
                    event_id if isinstance(event_id, str) else None,
                    describe(exc, unlisted=unlisted),
                )
            )
            continue
        events.append(_to_record(parsed, default_tool))
        positions.append(index)
    return ParsedBatch(events, positions, rejected)


def _items(data: Any) -> list[Any]:
    if isinstance(data, dict) and "events" in data:
        if set(data) != {"events"}:
            raise BadBody(422, 'a batch is {"events": [...]} with no other keys')
        events = data["events"]
        if not isinstance(events, list):
            raise BadBody(422, "events must be a list")
        if not 1 <= len(events) <= MAX_BATCH:
            raise BadBody(422, f"a batch holds 1 to {MAX_BATCH} events, not {len(events)}")
        return events
    if isinstance(data, dict):
        return [data]
    raise BadBody(422, 'body must be one event object or {"events": [event, ...]}')


def _to_record(event: EventIn, default_tool: str) -> UsageEvent:
    user = event.user
    return _new_event(
        event.event_id,
        UserRef(user.slack_user_id, None if user.slack_user_id else (user.email or "").lower()),
        event.occurred_at.astimezone(UTC),
        event.tool or default_tool,
        event.kind,
        event.model,
        *figures_of(event),
        event.attributes,
    )


def _quick_record(event: _EventFields, default_tool: str, latest: datetime) -> UsageEvent | None:
    """The record of an event pydantic-core validated alone, after the checks EventIn's Python
    validators make (the same functions or comparisons); None if one fails."""
    user = event.user
    slack_user_id, email = user.slack_user_id, user.email
    if email is not None:
        try:
            email = bounds.email(email)
        except bounds.OutOfBounds:
            return None
    if not slack_user_id and not email:
        return None
    try:
        at = event.occurred_at.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if not bounds.EARLIEST <= at <= latest:
        return None
    cost = event.cost_usd
    if cost is not None:
        if not math.isfinite(cost):
            return None
        if cost == 0:
            event.cost_usd = 0.0  # as EventIn._finite does: -0.0 would be stored signed
    shown, accepted = event.suggestions_shown, event.suggestions_accepted
    if accepted is not None and (shown is None or accepted > shown):
        return None
    attributes = event.attributes
    if attributes and any(isinstance(v, str) and len(v) > 256 for v in attributes.values()):
        return None
    return _new_event(
        event.event_id,
        UserRef(slack_user_id, None if slack_user_id else email),
        at,
        event.tool or default_tool,
        event.kind,
        event.model,
        *figures_of(event),
        attributes,
    )


# Records are built positionally (keywords cost a dict per event): UsageEvent's fields after
# `model` are the figures, in the order of NAMES, then `attributes`.
_new_event = cast(Callable[..., UsageEvent], UsageEvent)  # the figures' count is unknown to mypy
if [f.name for f in fields(UsageEvent)][6:] != [*NAMES, "attributes"]:
    raise ImportError("UsageEvent's figures are not in the order of storage.figures.NAMES")
