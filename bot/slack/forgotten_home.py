"""After a forget, the person's App Home in Slack: their chart files deleted (`files.delete`)
and their tab replaced with one that shows nothing of theirs (`views.publish`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.views.privacy import forgotten_home_view

log = logging.getLogger("aiusage.privacy")

# A file someone (or Slack) already removed is as deleted as we want it.
GONE = frozenset({"file_not_found", "file_deleted"})


class SlackHomeEraser:
    """Empties a forgotten person's Home through the bot's client; `on_erase` drops what
    this process keeps in memory (rendered charts, uploaded file IDs). `publish`, in `serve`,
    queues the deleted Home behind the person's other publishes (`HomeService.erase`), which
    delivers it; without it (the CLI) it is published here, and a refusal reported."""

    def __init__(
        self,
        client: WebClient,
        on_erase: Callable[[], None] | None = None,
        publish: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self.on_erase: list[Callable[[], None]] = [on_erase] if on_erase else []
        self._publish = publish

    def erase(self, slack_user_id: str | None, chart_files: Sequence[str]) -> list[str]:
        problems: list[str] = []
        for reset in self.on_erase:
            reset()
        for file_id in chart_files:
            try:
                self._client.files_delete(file=file_id)
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "")
                if error not in GONE:
                    problems.append(f"chart file {file_id}: {error}")
            except OSError as exc:
                problems.append(f"chart file {file_id}: {exc!r}")
        if slack_user_id and self._publish is not None:
            self._publish(slack_user_id)
        elif slack_user_id:
            try:
                self._client.views_publish(user_id=slack_user_id, view=forgotten_home_view())
            except SlackApiError as exc:
                problems.append(f"App Home: {exc.response.get('error')}")
            except OSError as exc:
                problems.append(f"App Home: {exc!r}")
        for line in problems:
            log.warning("after a forget, Slack did not take: %s", line)
        return problems
