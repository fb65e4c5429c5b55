"""Logging for `serve`: plain text or JSON lines, a request id on every line logged while a
request is handled, and secrets scrubbed from whatever is logged."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
access_log = logging.getLogger("aiusage.access")

# Tokens and keys as they look in the wild, caught even when we were not told their value;
# a database password too, after the user name or as the query parameter libpq also reads.
SECRET_PATTERNS = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"
    r"|postgres(?:ql)?(?:\+\w+)?://[^\s:@/]+:[^\s@/]+@|[?&](?i:(?:ssl)?password)=[^\s&#]+)"
)
REDACTED = "[redacted]"
# A Slack response_url or webhook (hooks.slack.com/commands/T…/…/…, /actions/…, /services/…)
# lets whoever holds it post as the app, for half an hour or for good: the path past the
# team is the secret, on whichever host serves it (SLACK_API_URL points elsewhere in tests).
WEBHOOK_PATH = re.compile(
    r"/(commands|actions|services|workflows|triggers)/([A-Z0-9]+)/[^\s'\"<>]+"
)
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# What every record has; anything else on one came from `extra=` (a request's path, its
# method) or from the request id, and is written beside the message in JSON lines.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class Scrub(logging.Filter):
    """Replaces known secret values, and anything shaped like a token or a Slack webhook
    path, in each record: its message, its traceback and every text field added to it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = WEBHOOK_PATH.sub(rf"/\1/\2/{REDACTED}", text)
        return SECRET_PATTERNS.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record.request_id = request_id.get()
        # JSON lines copy these as they are: a token in a requested path was written in full
        # in `path` while the message beside it said [redacted].
        fields = record.__dict__
        for key in fields.keys() - _RECORD_FIELDS:
            value = fields[key]
            if isinstance(value, str):
                fields[key] = self.scrub(value)
        return True


class JSONLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            line["request_id"] = rid
        for key in ("method", "path", "status", "ms"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_text:
            line["error"] = record.exc_text
        # JSON escapes C0 controls but not DEL, C1 or the Unicode separators, which
        # `str.splitlines()` and some viewers break lines at: a client's path could then start
        # a line of its own. Escaped, the line still reads back as the same JSON.
        return _JSON_UNSAFE.sub(_json_escape, json.dumps(line, ensure_ascii=False))


class Text(logging.Formatter):
    """One line a record, control characters escaped (`\\n`, `\\x00`): a request path or
    any other text a client chose cannot start a line that passes for a record of its own,
    nor write raw bytes into the log. A traceback is one line too, as in JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = getattr(record, "request_id", None)
        return one_line(f"{text} [request {rid}]" if rid else text)


# C0 and C1 controls and DEL, and the two Unicode separators some viewers break lines at.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def one_line(text: str) -> str:
    """`text` with its control characters written as Python escapes."""
    return _CONTROL.sub(_escape, text)


def configure_logging(fmt: str, secrets: Iterable[str]) -> None:
    """Send every log record (ours, uvicorn's, Bolt's) to stderr in `fmt` ("text" or "json"),
    secrets scrubbed."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Scrub(secrets))
    if fmt == "json":
        handler.setFormatter(JSONLines())
    else:
        handler.setFormatter(Text("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Alembic narrates every start; `Database.upgrade` says what it changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)


class RequestIds:
    """ASGI middleware: a request id for each HTTP request (the caller's `X-Request-Id` when it
    is short and plain, else a new one), echoed in the response and on every log line, and one
    access line a request (method, path without its query, status, duration)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            if path.startswith("/charts/"):
                path = "/charts/…"  # the rest of the path is a signed token
            ms = round((time.perf_counter() - started) * 1000, 1)
            extra = {"method": scope.get("method"), "path": path, "status": status, "ms": ms}
            access_log.info("%s %s %s %.1f ms", extra["method"], path, status, ms, extra=extra)
            request_id.reset(token)
