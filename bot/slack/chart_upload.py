"""Chart images uploaded to Slack (`files.uploadV2`), for when Slack cannot fetch them from us
(Socket Mode, no public URL). The Home's image block then names the file (`slack_file`).

One file per person is kept: a new chart replaces (and deletes) their previous one, and an
unchanged chart reuses its file. Without the `files:write` scope uploads stop for the life of
the process and the Home shows a text chart instead; while Slack rate-limits uploads, the
Home shows one too, and the next publish uploads again.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.charts import Chart, alt_text
from bot.slack.rate_limits import OncePer, rate_limited, retry_after

log = logging.getLogger("aiusage.home")

# Errors that will not go away by trying again: the app lacks the scope, or the token type.
SCOPE_ERRORS = frozenset({"missing_scope", "not_allowed_token_type", "no_permission"})
MAX_KEPT = 256
DELETE_TRIES = 3  # a rate-limited delete of a replaced file is sent again after Retry-After


class ChartUploads:
    """Uploads chart PNGs and remembers their file IDs."""

    def __init__(
        self,
        render: object,
        size: int = MAX_KEPT,
        record: Callable[[int, str], str | None] | None = None,
    ) -> None:
        self._render = render  # Chart -> PNG bytes (the Home service's cache)
        # Stores a person's new file ID and returns the one it replaces: kept in the database
        # so a forget from any process can delete the file from Slack.
        self._record = record
        self.size = size
        self.enabled = True
        self._by_chart: OrderedDict[Chart, str] = OrderedDict()
        self._by_person: dict[int, str] = {}
        self._lock = threading.Lock()
        self._limited = OncePer()

    def file_for(self, client: WebClient, person_id: int, chart: Chart) -> str | None:
        """The Slack file ID showing `chart`, uploading it if needed; None when it cannot be."""
        if not self.enabled:
            return None
        with self._lock:
            found = self._by_chart.get(chart)
            if found is not None and self._by_person.get(person_id) == found:
                return found
        png = self._render(chart)  # type: ignore[operator]
        try:
            response = client.files_upload_v2(
                content=png,
                filename="aiusage-chart.png",
                title="Your last 12 weeks",
                alt_txt=alt_text(chart)[:1000],
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in SCOPE_ERRORS:
                self.enabled = False
                log.warning("chart uploads are off (%s): add files:write to show images", error)
            elif rate_limited(exc):
                if self._limited.due("upload"):
                    log.warning("Slack rate limited chart uploads: Homes show a text chart")
            else:
                log.warning("uploading a chart failed: %s", error)
            return None
        except OSError as exc:
            log.warning("uploading a chart failed: %r", exc)
            return None
        file_id = str(response["file"]["id"])
        with self._lock:
            previous = self._by_person.get(person_id)
            self._by_person[person_id] = file_id
            self._by_chart[chart] = file_id
            if previous is not None:
                self._by_chart = OrderedDict(
                    (c, f) for c, f in self._by_chart.items() if f != previous
                )
            while len(self._by_chart) > self.size:
                self._by_chart.popitem(last=False)
        stale = {previous}
        if self._record is not None:
            try:
                stale.add(self._record(person_id, file_id))
            except Exception:  # the image still shows; the forget then misses this file
                log.exception("recording the chart file %s failed", file_id)
        for old in sorted(f for f in stale if f is not None and f != file_id):
            self._delete(client, old)  # nobody's Home shows it any more
        return file_id

    def _delete(self, client: WebClient, file_id: str, tries: int = DELETE_TRIES) -> None:
        try:
            client.files_delete(file=file_id)
        except SlackApiError as exc:
            if rate_limited(exc) and tries > 1:
                # Sent again from a timer, not waited out on the Home thread that asked; the
                # database names only the new file, so a forget would never find this one.
                again = (client, file_id, tries - 1)
                timer = threading.Timer(retry_after(exc), self._delete, again)
                timer.daemon = True
                timer.start()
                return
            log.info("could not delete the old chart file %s: %r", file_id, exc)
        except OSError as exc:
            log.info("could not delete the old chart file %s: %r", file_id, exc)

    def clear(self) -> None:
        """Forget every file ID kept here (after a person is forgotten)."""
        with self._lock:
            self._by_chart.clear()
            self._by_person.clear()
