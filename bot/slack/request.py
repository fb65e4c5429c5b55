"""What comes in at `POST /slack/events` before Bolt sees it: the signature checked by us, so
a malformed header is a quiet 401 rather than an exception, and the body read by the form's
real fields, so no text typed after `/aiusage` can make a command look like something else."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier

from storage import bounds

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


def parse_slack_body(raw: str, content_type: str | None) -> dict[str, Any] | None:
    """The fields of a request body; None when it is not a JSON object or a form. Bolt guesses
    a form body is an interaction when the word `payload` appears anywhere in it, so
    `/aiusage payload` went unanswered; here only a real `payload` field makes it one."""
    try:
        if content_type == "application/json" or raw.startswith("{"):
            data = json.loads(raw)
            return data if isinstance(data, dict) else None
        fields = dict(parse_qsl(raw, keep_blank_values=True))
        if "payload" in fields:
            payload = json.loads(fields["payload"])
            return payload if isinstance(payload, dict) else None
        return fields
    except (ValueError, RecursionError):
        return None


def shape_problem(body: dict[str, Any]) -> str | None:
    """What a body lacks that Slack always sends with its kind, in a few words; None when
    nothing is missing. Bolt's matchers and our listeners read these fields as given, and
    raised on a signed body without them."""
    if "command" in body and not (_user(body.get("user_id")) and _text(body.get("response_url"))):
        return "slash command without a Slack user_id or a response_url"
    if "response_url" in body and (problem := reply_url_problem(body["response_url"])):
        return problem
    kind = body.get("type")
    if kind == "block_actions":
        actions, user = body.get("actions"), body.get("user")
        listed = actions if isinstance(actions, list) else []
        if not listed or not all(isinstance(action, dict) for action in listed):
            return "block_actions without actions"
        if not (isinstance(user, dict) and _user(user.get("id"))):
            return "block_actions without a user"
        # A message's buttons are answered at the click's response_url; a view's have none.
        if "response_url" not in body and not isinstance(body.get("view"), dict):
            return "block_actions in a message without a response_url"
    if kind == "event_callback":
        event = body.get("event")
        if not (isinstance(event, dict) and _text(event.get("type"))):
            return "event_callback without an event type"
        if event["type"] == "app_home_opened" and not _user(event.get("user")):
            return "app_home_opened without a user"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not (isinstance(view, dict) and _text(view.get("type"))):
            return f"{kind} without a view type"
    return None


def reply_url_problem(url: object) -> str | None:
    """Why a request's `response_url` is no address to post its reply to; None when it is.
    Slack's are https (hooks.slack.com); plain http only on this machine, as the demo's and
    the tests' fake Slack. Anything else was posted to, or failed after the click's work was
    done (a `file:` URL), leaving the caller untold."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        return "response_url is not a URL"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "response_url is not a URL"
    if not host:
        return "response_url is not a URL"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and _loopback(host):
        return None
    return "response_url is neither https nor this machine"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _user(value: object) -> bool:
    """A Slack user ID: what the people tables key on (a longer one failed after the ack)."""
    try:
        return isinstance(value, str) and bool(bounds.slack_user_id(value))
    except bounds.OutOfBounds:
        return False


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
        except (ValueError, RecursionError, AttributeError, TypeError):
            super().__init__(body="", query=query, headers=headers, context=context)
            self.raw_body = body
        read = parse_slack_body(self.raw_body, self.content_type)
        # Why this body is no Slack request we can read; None when it is one.
        self.problem = "body is not a JSON object or form" if read is None else shape_problem(read)
        parsed = {} if read is None or self.problem else read
        if parsed != self.body:
            try:
                self.context = build_context(BoltContext(dict(context or {})), parsed)
            except (AttributeError, TypeError, LookupError):
                self.problem, parsed = "fields of a kind Slack never sends", {}
                self.context = build_context(BoltContext(dict(context or {})), parsed)
            self.body = parsed

    def to_copyable(self) -> SlackRequest:
        return SlackRequest(
            body=self.raw_body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
        )
