"""The OpenAPI document of the HTTP API, built from the same pydantic models that validate."""

from __future__ import annotations

from typing import Any

from bot.intake.event_batch import MAX_BATCH, EventBatchIn, EventIn

_REF = "#/components/schemas/{model}"


def openapi_document(version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (EventIn, EventBatchIn):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas["IngestResult"] = _INGEST_RESULT
    error = {"$ref": "#/components/schemas/Error"}
    schemas["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "aiusage",
            "version": version,
            "description": "Record AI-tool usage. Authenticate with `Authorization: Bearer <key>` "
            "from `aiusage integrations create NAME`.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"integrationKey": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/v1/events": {
                "post": {
                    "summary": f"Record one event or a batch of 1 to {MAX_BATCH}",
                    "description": "Idempotent per integration and event_id. Bad items are "
                    "rejected by index while the good ones beside them are stored. Body at "
                    "most 1 MiB, gzip allowed (`Content-Encoding: gzip`; at most 1 MiB "
                    "inflated too).",
                    "security": [{"integrationKey": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": _REF.format(model="EventIn")},
                                        {"$ref": _REF.format(model="EventBatchIn")},
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json("Stored", {"$ref": _REF.format(model="IngestResult")}),
                        "400": _json("Body is not JSON, or not the gzip it says", error),
                        "401": _json("Missing, unknown or revoked key", error),
                        "413": _json("Body larger than 1 MiB, sent or inflated", error),
                        "415": _json("Content-Encoding other than gzip", error),
                        "422": _json("Body is not an event or a batch", error),
                        "503": _RETRY_LATER,
                    },
                }
            },
            **{path: _otlp(signal) for path, signal in _OTLP.items()},
            "/healthz": {
                "get": {
                    "summary": "Whether the database answers",
                    "responses": {
                        "200": {"description": "Healthy"},
                        "503": {"description": "Database unreachable"},
                    },
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Whether this replica should get traffic: the database answers "
                    "and takes writes, the schema is this version's, and it is not draining",
                    "responses": {
                        "200": {"description": "Ready"},
                        "503": {"description": "Not ready; `error` says why"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "Prometheus text format"}},
                }
            },
        },
    }


_OTLP = {"/v1/metrics": "metrics", "/v1/logs": "logs"}


def _otlp(signal: str) -> dict[str, Any]:
    """An OTLP/HTTP export path; its bodies are OpenTelemetry's protobuf messages."""
    message = f"opentelemetry.proto.collector.{signal}.v1.Export{signal.title()}ServiceRequest"
    rejected = "rejected_data_points" if signal == "metrics" else "rejected_log_records"
    binary = {"schema": {"type": "string", "contentMediaType": "application/x-protobuf"}}
    return {
        "post": {
            "summary": f"OpenTelemetry OTLP/HTTP {signal} export",
            "description": f"A `{message}`, as protobuf or OTLP/JSON, gzip allowed "
            "(`Content-Encoding: gzip`). Answers with the matching Export…ServiceResponse in "
            f"the request's encoding, with `partial_success.{rejected}` when some were "
            "dropped. Body at most 8 MiB, 32 MiB decompressed.",
            "security": [{"integrationKey": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-protobuf": binary,
                    "application/json": {"schema": {"type": "object"}},
                },
            },
            "responses": {
                "200": {
                    "description": "Stored, perhaps partly (see partial_success)",
                    "content": {"application/x-protobuf": binary, "application/json": {}},
                },
                "400": {"description": "Body does not decode"},
                "401": {"description": "Missing, unknown or revoked key"},
                "413": {"description": "Body too large"},
                "415": {"description": "Content-Type or Content-Encoding not supported"},
                "503": _RETRY_LATER,
            },
        }
    }


# Nothing of the request was stored; OTLP exporters send the same again on their own.
_RETRY_LATER = {
    "description": "The database is unreachable or read-only, or every decode slot is busy: "
    "nothing was stored; send the same again after Retry-After",
    "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_INGEST_RESULT = {
    "type": "object",
    "properties": {
        "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "event_id": {"type": ["string", "null"]},
                    "error": {"type": "string"},
                },
                "required": ["index", "event_id", "error"],
            },
        },
    },
    "required": ["accepted", "duplicates", "rejected"],
}
