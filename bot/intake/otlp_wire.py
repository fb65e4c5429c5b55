"""OTLP/HTTP on the wire: the media types, gzip, the limits an export is held to before it
is parsed, decoding into protobuf messages, and the answer. Pure: bytes in, messages out."""

from __future__ import annotations

import base64
from typing import Any, TypeVar

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceResponse,
)

from bot.intake.body_limits import TooComplex, check_json, check_protobuf
from bot.intake.encodings import BadEncoding, decoded

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024  # six times a collector's full batch as JSON
# What one export may hold, checked on its bytes before it is parsed: room for a collector's
# full batch (8,192 points with their attributes: about 75,000 messages, 175,000 JSON values).
MAX_MESSAGES = 100_000
MAX_JSON_VALUES = 200_000
MAX_DEPTH = 32  # a point's attributes sit 8 deep; nested array and map values add a few

M = TypeVar("M", bound=Message)


class BadExport(Exception):
    """The body as a whole is unusable; nothing from it is stored."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(content_type: str | None) -> str:
    """The request's OTLP encoding, or 415 for anything else."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in (PROTOBUF, JSON):
        return kind
    raise BadExport(415, f"Content-Type must be {PROTOBUF} or {JSON}")


def decode(body: bytes, kind: str, encoding: str | None, message: type[M]) -> M:
    """Parse an OTLP request body of the given media type and Content-Encoding."""
    try:
        body = decoded(body, encoding, MAX_DECOMPRESSED_BYTES)
    except BadEncoding as exc:
        raise BadExport(exc.status, exc.message) from None
    try:
        if kind == PROTOBUF:
            # An empty message costs two bytes on the wire: a smaller body cannot pass the limit.
            if len(body) > 2 * MAX_MESSAGES:
                check_protobuf(
                    body, message.DESCRIPTOR, max_messages=MAX_MESSAGES, max_depth=MAX_DEPTH
                )
        else:
            check_json(body, max_values=MAX_JSON_VALUES, max_depth=MAX_DEPTH)
    except TooComplex as exc:
        raise BadExport(exc.status, exc.message) from None
    if kind == PROTOBUF:
        try:
            return message.FromString(body)
        except DecodeError as exc:
            raise BadExport(400, f"body is not a valid {message.__name__}: {exc}") from None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadExport(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadExport(400, "body must be a JSON object")
    try:
        return json_format.ParseDict(
            _hex_ids_to_base64(data), message(), ignore_unknown_fields=True
        )
    except json_format.ParseError as exc:
        raise BadExport(400, f"body is not a valid {message.__name__}: {exc}") from None


def _hex_ids_to_base64(value: Any) -> Any:
    # OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping wants base64 bytes.
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("traceId", "spanId", "trace_id", "span_id") and isinstance(item, str):
                try:
                    item = base64.b64encode(bytes.fromhex(item)).decode()
                except ValueError:
                    raise BadExport(400, f"{key} must be hex: {item!r}") from None
            else:
                item = _hex_ids_to_base64(item)
            out[key] = item
        return out
    if isinstance(value, list):
        return [_hex_ids_to_base64(item) for item in value]
    return value


def encode_response(kind: str, rejected: int, error: str, *, logs: bool) -> bytes:
    """The OTLP answer in the request's encoding, with partial_success only when something
    was dropped, as the specification asks."""
    message: Message
    if logs:
        message = ExportLogsServiceResponse()
        if rejected:
            message.partial_success.CopyFrom(
                ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=error)
            )
    else:
        message = ExportMetricsServiceResponse()
        if rejected:
            message.partial_success.CopyFrom(
                ExportMetricsPartialSuccess(rejected_data_points=rejected, error_message=error)
            )
    if kind == PROTOBUF:
        return message.SerializeToString()
    return orjson.dumps(json_format.MessageToDict(message))
