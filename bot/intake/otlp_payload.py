"""OTLP exports mapped to usage: AI coding tools' metrics and log events as plain records.
Pure functions: decoded messages in (`bot.intake.otlp_wire`), plain records out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from storage import bounds
from storage.records import UsageEvent, UserRef

CLAUDE_CODE = "claude-code"


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One sum data point mapped to usage. `figures` name the usage fields its value (for a
    cumulative series, its increase) goes to; `template` carries everything else."""

    series_key: str
    start_ns: int
    time_ns: int
    value: float
    cumulative: bool
    figures: tuple[str, ...]
    template: UsageEvent


@dataclass(frozen=True, slots=True)
class MappedMetrics:
    points: list[MetricPoint] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MappedLogs:
    events: list[UsageEvent] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


# --- attributes ---------------------------------------------------------------------------


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP key-values as a plain dict of scalars; arrays and maps become JSON text."""
    return {pair.key: _scalar(pair.value) for pair in pairs}


def _scalar(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which in ("array_value", "kvlist_value"):
        return orjson.dumps(json_format.MessageToDict(value)).decode()
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which)


def find_user(
    point: Mapping[str, Any], resource: Mapping[str, Any], names: Sequence[str]
) -> UserRef | None:
    """The person named by the first of `names` present on the point or its resource: an
    email if it has an @, otherwise an `otlp` identity an admin can link later. A point's
    value that names nobody (not a string, or blank) leaves the resource's to speak. Raises
    OutOfBounds when the value found is not a valid identity (see `storage.bounds`)."""
    for name in names:
        value = _named(point.get(name)) or _named(resource.get(name))
        if value is not None:
            if "@" in value:
                return UserRef(email=bounds.email(value))
            return UserRef(vendor=("otlp", bounds.identity("otlp", value)))
    return None


def _named(value: Any) -> str | None:
    """An attribute's value as a name for someone: a string with more than blanks in it,
    as sent. Not trimmed: spaces at its ends make it refused by name (`storage.bounds`), as
    the API refuses them, rather than one door counting what the other refuses."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def _model(attrs: Mapping[str, Any]) -> str | None:
    """The `model` attribute as stored: at most 128 characters; raises OutOfBounds for one
    no database can hold (see `storage.bounds.text`)."""
    model = attrs.get("model")
    return bounds.text("model", str(model)[:128]) if model else None


def _digest(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _moment(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1e9, UTC)


# --- metrics ------------------------------------------------------------------------------

# Claude Code's metrics (docs: "Monitoring usage"): the attribute that picks the figure, and
# the usage fields each of its values feeds. A value mapped to () is known but not counted.
_TOKEN_TYPES = {
    "input": ("input_tokens",),
    "cacheCreation": ("input_tokens",),
    "output": ("output_tokens",),
    "cacheRead": (),  # re-reading cached context is not new work; counting it would swamp input
}
_LINE_TYPES = {"added": ("lines_accepted",), "removed": ()}
_SHIPPED = {
    "claude_code.commit.count": ("commits",),
    "claude_code.pull_request.count": ("pull_requests",),
}
_COUNTED_ONLY = {
    "claude_code.session.count",
    "claude_code.active_time.total",
}


def _claude_code_figures(name: str, attrs: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Which usage fields a Claude Code metric point feeds; None for metrics we do not map."""
    if name == "claude_code.token.usage":
        return _TOKEN_TYPES.get(str(attrs.get("type")), ())
    if name == "claude_code.cost.usage":
        return ("cost_usd",)
    if name == "claude_code.lines_of_code.count":
        return _LINE_TYPES.get(str(attrs.get("type")), ())
    if name == "claude_code.code_edit_tool.decision":
        if attrs.get("decision") == "accept":
            return ("suggestions_shown", "suggestions_accepted")
        return ("suggestions_shown",)
    if name in _SHIPPED:
        return _SHIPPED[name]
    if name in _COUNTED_ONLY:
        return ("value",)  # no column of its own: kept on the event as attributes.value
    return None


_CUMULATIVE_BY_TEMPORALITY: dict[int, bool] = {
    AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA: False,
    AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE: True,
}


def _is_cumulative(temporality: int) -> bool:
    """Whether a sum's points are cumulative. UNSPECIFIED (which OTLP says must not be sent)
    or an unknown value raises OutOfBounds: taken as delta, a cumulative counter would be
    counted in full at every export."""
    if temporality not in _CUMULATIVE_BY_TEMPORALITY:
        raise bounds.OutOfBounds(
            f"aggregation_temporality must be DELTA (1) or CUMULATIVE (2), not {temporality}"
        )
    return _CUMULATIVE_BY_TEMPORALITY[temporality]


def map_metrics(
    request: ExportMetricsServiceRequest,
    *,
    user_attributes: Sequence[str],
    now: datetime,
) -> MappedMetrics:
    """Sum points of the metrics we know, ready for temporality handling in storage.
    Points nobody can be named for, or with impossible times, are counted as rejected."""
    points: list[MetricPoint] = []
    rejected = 0
    errors: set[str] = set()
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.WhichOneof("data") != "sum":
                    continue
                for point in metric.sum.data_points:
                    attrs = attributes(point.attributes)
                    figures = _claude_code_figures(metric.name, attrs)
                    if figures is None or figures == ():
                        continue
                    value = (
                        point.as_double
                        if point.WhichOneof("value") == "as_double"
                        else point.as_int
                    )
                    try:
                        user = _point_bounds(
                            point, value, figures, attrs, resource, user_attributes, now
                        )
                        model = _model(attrs)
                        cumulative = _is_cumulative(metric.sum.aggregation_temporality)
                    except bounds.OutOfBounds as exc:
                        rejected += 1
                        errors.add(f"{metric.name[:100]}: {exc}")
                        continue
                    series_key = _digest(
                        metric.name, sorted(resource.items()), sorted(attrs.items())
                    )
                    template = UsageEvent(
                        event_id="",  # set from the series and time once the increase is known
                        user=user,
                        occurred_at=_moment(point.time_unix_nano),
                        tool=CLAUDE_CODE,
                        kind="agent",
                        model=model,
                        requests=0,
                        suggestions_accepted=(
                            0 if metric.name == "claude_code.code_edit_tool.decision" else None
                        ),
                        attributes={"metric": metric.name} if figures == ("value",) else None,
                    )
                    points.append(
                        MetricPoint(
                            series_key=series_key,
                            start_ns=point.start_time_unix_nano,
                            time_ns=point.time_unix_nano,
                            value=float(value),
                            cumulative=cumulative,
                            figures=figures,
                            template=template,
                        )
                    )
    return MappedMetrics(points, rejected, sorted(errors))


def _point_bounds(
    point: Any,
    value: float,
    figures: tuple[str, ...],
    attrs: Mapping[str, Any],
    resource: Mapping[str, Any],
    user_attributes: Sequence[str],
    now: datetime,
) -> UserRef:
    """The person a sum point is for, once its person, times and value keep the bounds every
    door keeps; raises OutOfBounds naming what does not."""
    user = find_user(attrs, resource, user_attributes)
    if user is None:
        raise bounds.OutOfBounds(f"no {' or '.join(user_attributes)} attribute")
    bounds.unix_nanos("time_unix_nano", point.time_unix_nano, now)
    if point.start_time_unix_nano > point.time_unix_nano:
        raise bounds.OutOfBounds("start_time_unix_nano is after time_unix_nano")
    bounds.figure("value", value, is_cost=figures == ("cost_usd",))
    return user


# --- logs ---------------------------------------------------------------------------------


def _event_name(record: Any, attrs: Mapping[str, Any], service: str) -> str:
    """Claude Code names an event in the body (`claude_code.api_request`) and in `event.name`
    (`api_request`); newer SDKs also fill the record's own event_name."""
    for candidate in (
        record.event_name,
        record.body.string_value if record.body.WhichOneof("value") == "string_value" else "",
        str(attrs.get("event.name") or ""),
    ):
        if candidate.startswith("claude_code."):
            return candidate
        if candidate and service == CLAUDE_CODE:
            return f"claude_code.{candidate}"
    return ""


def _log_event_id(name: str, nanos: int, user: UserRef, attrs: Mapping[str, Any]) -> str:
    """The same record resent is a duplicate; the person is part of it because they are often
    named on the resource alone, and two people's records can otherwise be identical."""
    person = (user.email, user.vendor)
    return "otlp-log:" + _digest(name, nanos, person, sorted(attrs.items()))[:48]


def map_logs(
    request: ExportLogsServiceRequest,
    *,
    user_attributes: Sequence[str],
    now: datetime,
) -> MappedLogs:
    """One request per `claude_code.api_request` event. Tokens and cost come from the metrics,
    which Claude Code always sends, so they are not added here a second time."""
    events: list[UsageEvent] = []
    rejected = 0
    errors: set[str] = set()
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        service = str(resource.get("service.name") or "")
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                attrs = attributes(record.attributes)
                name = _event_name(record, attrs, service)
                if name != "claude_code.api_request":
                    continue
                nanos = record.time_unix_nano or record.observed_time_unix_nano
                try:
                    user = find_user(attrs, resource, user_attributes)
                    if user is None:
                        raise bounds.OutOfBounds(f"no {' or '.join(user_attributes)} attribute")
                    bounds.unix_nanos("time_unix_nano", nanos, now)
                    model = _model(attrs)
                except bounds.OutOfBounds as exc:
                    rejected += 1
                    errors.add(f"{name}: {exc}")
                    continue
                events.append(
                    UsageEvent(
                        event_id=_log_event_id(name, nanos, user, attrs),
                        user=user,
                        occurred_at=_moment(nanos),
                        tool=CLAUDE_CODE,
                        kind="agent",
                        model=model,
                        requests=1,
                    )
                )
    return MappedLogs(events, rejected, sorted(errors))
