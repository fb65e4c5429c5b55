"""What comes in at `POST /slack/events` before Bolt sees it: the signature checked by us, so
a malformed header is a quiet 401 rather than an exception, and the body read by the form's
real fields, so no text typed after `/aiusage` can make a command look like something else."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier

# Slack signs with `v0=` and a hex SHA-256; its timestamps are Unix seconds.
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signature_problem(
    verifier: SignatureVerifier, body: str, headers: Mapping[str, str]
) -> str | None:
    """Why this request is not signed by Slack, in a few words; None when it is. Never
    raises, whatever the headers hold."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if timestamp is None or signature is None:
        return "signature headers missing"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "timestamp is not Unix seconds"
    if not _SIGNATURE.fullmatch(signature):
        return "signature is malformed"
    if not verifier.is_valid(body, timestamp, signature):
        return "signature is wrong or more than five minutes old"
    return None


def parse_slack_body(raw: str, content_type: str | None) -> dict[str, Any]:
    """The fields of a request body. Bolt guesses a form body is an interaction when the word
    `payload` appears anywhere in it, so `/aiusage payload` went unanswered; here only a real
    `payload` field makes it one. A body that cannot be read is empty (Bolt then says 404)."""
    try:
        if content_type == "application/json" or raw.startswith("{"):
            data = json.loads(raw)
            return data if isinstance(data, dict) else {}
        fields = dict(parse_qsl(raw, keep_blank_values=True))
        if "payload" in fields:
            payload = json.loads(fields["payload"])
            return payload if isinstance(payload, dict) else {}
        return fields
    except (ValueError, RecursionError):
        return {}


class SlackRequest(BoltRequest):
    """A Bolt request whose body is read by `parse_slack_body`, in the copies Bolt makes for
    lazy listeners too."""

    def __init__(
        self,
        *,
        body: str,
        query: Any = None,
        headers: Any = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        # Bolt's own parse runs first and cannot be skipped; on a hostile body it can raise.
        try:
            super().__init__(body=body, query=query, headers=headers, context=context)
        except (ValueError, RecursionError):
            super().__init__(body="", query=query, headers=headers, context=context)
            self.raw_body = body
        parsed = parse_slack_body(self.raw_body, self.content_type)
        if parsed != self.body:
            self.body = parsed
            self.context = build_context(BoltContext(dict(context or {})), parsed)

    def to_copyable(self) -> SlackRequest:
        return SlackRequest(
            body=self.raw_body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
        )
