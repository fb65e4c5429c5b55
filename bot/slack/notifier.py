"""The Slack side of posting for jobs: renders plain post data and posts it exactly once."""

from __future__ import annotations

from datetime import datetime
from functools import singledispatch
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from bot.slack.membership import NOT_A_PERSON_OF_OURS
from bot.slack.rate_limits import rate_limited, retry_after
from bot.slack.views.award_post import award_blocks, award_text
from bot.slack.views.channel import announcement_blocks, announcement_text
from bot.slack.views.digest import digest_blocks, digest_text
from jobs.admin_rules import Announcement
from jobs.award_rules import AwardPost
from jobs.digest_rules import DigestPost
from jobs.posting import (
    RATE_LIMITED,
    Post,
    PostOutcomeUnknown,
    PostRejected,
    PostUndeliverable,
)

EVENT_TYPE = "aiusage_post"
# Slack's clock and ours may differ a little; look this far before the claim for a post.
CLOCK_SLACK_S = 120
# History is read from the first claim to its end; past this many pages (200,000 messages
# since the claim) the answer is "unsure", and nothing is posted.
HISTORY_PAGES = 1000
# Errors that say a direct message's person cannot be written to, now or on any retry: gone
# from Slack, deactivated, or a bot. (`account_inactive` is not one: it is our own token's
# account that is deleted, which no person's DM can help, and may be put right.)
NO_SUCH_RECIPIENT = frozenset(
    {"user_not_found", "user_disabled", "cannot_dm_bot", "user_not_visible", "channel_not_found"}
)


@singledispatch
def render_post(data: object) -> tuple[str, list[Block]]:
    """Plain-text fallback and blocks for a post's data; register one per data type."""
    raise TypeError(f"no renderer for {type(data).__name__}")


@render_post.register
def _(data: AwardPost) -> tuple[str, list[Block]]:
    return award_text(data), award_blocks(data)


@render_post.register
def _(data: Announcement) -> tuple[str, list[Block]]:
    return announcement_text(data), announcement_blocks(data)


@render_post.register
def _(data: DigestPost) -> tuple[str, list[Block]]:
    return digest_text(data), digest_blocks(data)


class SlackNotifier:
    """Posts with `chat.postMessage`, tagging each message with its post key in message
    metadata, and finds such messages again with `conversations.history`. Give it a client
    that does not retry 5xx (`make_web_client(settings, retry_server_errors=False)`)."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def post(self, channel: str, post: Post) -> str:
        text, blocks = render_post(post.data)
        try:
            response = self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                metadata={"event_type": EVENT_TYPE, "event_payload": {"post_key": post.key}},
            )
        except SlackApiError as exc:
            raise _classify(exc) from None
        except OSError as exc:  # timeouts and dropped connections: Slack may have posted
            raise PostOutcomeUnknown(f"{type(exc).__name__}: {exc}") from None
        return str(response["ts"])

    def update(self, channel: str, ts: str, post: Post) -> None:
        """Rewrite a message already posted (`chat.update`), e.g. to drop a forgotten name."""
        text, blocks = render_post(post.data)
        try:
            self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            raise _classify(exc) from None
        except OSError as exc:  # a timeout: Slack may have made the edit; it is made again
            raise PostOutcomeUnknown(f"{type(exc).__name__}: {exc}") from None

    def find_post(self, channel: str, post_key: str, since: datetime) -> str | None:
        """Reads `conversations.history` from just before `since` to its end."""
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            args: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{since.timestamp() - CLOCK_SLACK_S:.6f}",
                "include_all_metadata": True,
                "limit": 200,
            }
            if cursor:
                args["cursor"] = cursor
            try:
                response = self._client.conversations_history(**args)
            except SlackApiError as exc:
                raise _classify(exc) from None
            except OSError as exc:
                raise PostOutcomeUnknown(f"{type(exc).__name__}: {exc}") from None
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == EVENT_TYPE and payload.get("post_key") == post_key:
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                if response.get("has_more"):
                    raise PostOutcomeUnknown("history has more messages but gave no cursor")
                return None
        raise PostOutcomeUnknown(f"history since the claim is longer than {HISTORY_PAGES} pages")


def _classify(exc: SlackApiError) -> Exception:
    status = exc.response.status_code
    error = str(exc.response.get("error") or f"HTTP {status}")
    if status >= 500:
        return PostOutcomeUnknown(f"HTTP {status}")  # a 5xx may come after Slack posted
    if rate_limited(exc):
        # Handed back (or past the client's own retries): the retry waits at least what
        # Slack asks, held to 5 minutes, so a hostile Retry-After cannot park the post.
        return PostRejected(RATE_LIMITED, retry_after=retry_after(exc))
    return PostRejected(error)


class DirectMessageNotifier(SlackNotifier):
    """Posts to a person (a user ID as the channel: the app's DM with them), exactly once as
    channel posts are: before any retry the DM's own history is read (`conversations.open`
    names the DM channel; `im:history` reads it). Someone Slack reports deactivated, gone or
    a bot is not written to, and a DM Slack refuses for good is not retried
    (`PostUndeliverable`). Someone Slack vouched for lately (`Post.recipient_vouched`) is
    asked about only if the DM is refused, which spares `users.info`'s small budget."""

    def post(self, channel: str, post: Post) -> str:
        if not post.recipient_vouched:
            self._check_recipient(channel)
        try:
            return super().post(channel, post)
        except PostRejected as exc:
            rejected = exc
        refusal = _for_good(rejected)
        # Vouched for lately and refused now: they may have left since. A 429 says nothing
        # of them.
        if post.recipient_vouched and refusal is rejected and rejected.error != RATE_LIMITED:
            self._check_recipient(channel)
        raise refusal

    def find_post(self, channel: str, post_key: str, since: datetime) -> str | None:
        try:
            opened = self._client.conversations_open(users=channel)
        except SlackApiError as exc:
            raise _for_good(_classify(exc)) from None
        except OSError as exc:
            raise PostOutcomeUnknown(f"{type(exc).__name__}: {exc}") from None
        return super().find_post(str(opened["channel"]["id"]), post_key, since)

    def _check_recipient(self, user_id: str) -> None:
        """Refuse, for good, a DM to someone `users.info` says is no person of ours now; when
        Slack cannot say, the post itself is tried (and refused by Slack if it must be)."""
        try:
            user = self._client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") in NO_SUCH_RECIPIENT:
                raise PostUndeliverable(str(exc.response.get("error"))) from None
            return
        except OSError:
            return
        flags = [flag for flag in NOT_A_PERSON_OF_OURS if isinstance(user, dict) and user.get(flag)]
        if flags:
            raise PostUndeliverable(f"users.info: {flags[0]}")


def _for_good(exc: Exception) -> Exception:
    """A refusal that says the person cannot be written to at all, as undeliverable."""
    if isinstance(exc, PostRejected) and exc.error in NO_SUCH_RECIPIENT:
        return PostUndeliverable(exc.error)
    return exc
