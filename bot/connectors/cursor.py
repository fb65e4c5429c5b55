"""The `cursor` connector: Cursor's Admin API `POST /teams/daily-usage-data`, in windows of at
most 30 days (basic auth, the key as user name), read by the same parser as
`aiusage import cursor`. Cursor allows about 20 requests a minute and answers 429 with
`Retry-After` past that, which the client honours."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from bot.connectors.http import VendorClient
from bot.connectors.limits import TooLarge
from bot.intake import cursor
from bot.intake.vendor_report import DECODE_ERRORS
from jobs.connector_items import Batch, ConnectorError
from storage.records import BadRow, ReportDay

WINDOW_DAYS = 30
log = logging.getLogger(__name__)


def epoch_ms(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp() * 1000)


def windows(first: date, last: date, size: int = WINDOW_DAYS) -> Iterator[tuple[date, date]]:
    """Consecutive windows of at most `size` days covering first..last."""
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=size - 1))
        yield start, end
        start = end + timedelta(days=1)


class CursorConnector:
    name = "cursor"

    def __init__(self, api: VendorClient) -> None:
        self.api = api

    @classmethod
    def build(cls, base_url: str, key: str, **client: object) -> CursorConnector:
        return cls(VendorClient("Cursor", base_url, auth=(key, ""), secrets=(key,), **client))  # type: ignore[arg-type]

    def close(self) -> None:
        self.api.close()

    def batches(self, first: date, last: date) -> Iterator[Batch]:
        for start, end in windows(first, last):
            yield from self._window(start, end)

    def _window(self, start: date, end: date) -> Iterator[Batch]:
        """The window's days, asked for in halves while its answer is past the client's
        size limit: a month of a large team's usage can be, a day of it should not be."""
        body = {"startDate": epoch_ms(start), "endDate": epoch_ms(end + timedelta(days=1)) - 1}
        try:
            response = self.api.request("POST", "/teams/daily-usage-data", json=body)
        except TooLarge:
            if start == end:
                raise
            middle = start + (end - start) // 2
            log.info("cursor: the answer for %s to %s is too large; asking in halves", start, end)
            yield from self._window(start, middle)
            yield from self._window(middle + timedelta(days=1), end)
            return
        days = tuple(start + timedelta(days=n) for n in range((end - start).days + 1))
        answer = response.content.decode("utf-8-sig", DECODE_ERRORS)  # as `import cursor`
        yield Batch(days, self._within(answer, start, end))

    @staticmethod
    def _within(body: str, start: date, end: date) -> Iterator[ReportDay | BadRow]:
        try:
            for item in cursor.parse(body):
                # a day outside the window was not asked for and is not cleared; leave it
                if isinstance(item, BadRow) or start <= item.day <= end:
                    yield item
        except Exception as exc:  # BadReport: the answer is not daily-usage data
            raise ConnectorError(
                f"Cursor's daily-usage-data answer is not readable: {exc}"
            ) from None
