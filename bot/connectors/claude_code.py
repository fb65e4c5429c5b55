"""The `claude-code` connector: Anthropic's Admin API Claude Code usage report, one UTC day per
request (`starting_at`), followed page by page (`has_more`, `next_page`) to the end. A day is
held whole before it is written, so it is held to `MAX_DAY_RECORDS`, and a cursor that comes
round again stops it: its pages would otherwise be counted twice, or asked for without end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from bot.connectors.http import VendorClient
from bot.connectors.limits import MAX_DAY_RECORDS, TooLarge
from bot.intake import claude_code
from jobs.connector_items import Batch, ConnectorError
from storage.records import BadRow, ReportDay

API_VERSION = "2023-06-01"
PAGE_SIZE = 1000  # the most Anthropic allows
MAX_PAGES = 10_000  # a cursor that never ends is a vendor bug, not a reason to loop forever


class ClaudeCodeConnector:
    name = "claude-code"
    max_day_records = MAX_DAY_RECORDS

    def __init__(self, api: VendorClient) -> None:
        self.api = api

    @classmethod
    def build(cls, base_url: str, key: str, **client: object) -> ClaudeCodeConnector:
        api = VendorClient(
            "Anthropic",
            base_url,
            headers={"x-api-key": key, "anthropic-version": API_VERSION},
            secrets=(key,),
            **client,  # type: ignore[arg-type]
        )
        return cls(api)

    def close(self) -> None:
        self.api.close()

    def batches(self, first: date, last: date) -> Iterator[Batch]:
        day = first
        while day <= last:
            # One record per actor, terminal and customer type: a person's records add up.
            yield Batch((day,), list(self._day(day)), add_up=True)
            day += timedelta(days=1)

    def _day(self, day: date) -> Iterator[ReportDay | BadRow]:
        """Every page of the day; records are numbered across pages."""
        params: dict[str, str | int] = {"starting_at": day.isoformat(), "limit": PAGE_SIZE}
        number = 1
        cursors: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            body = self.api.request(
                "GET", "/v1/organizations/usage_report/claude_code", params=params
            ).json()
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise ConnectorError(f"Anthropic's Claude Code report for {day} has no data list")
            if number - 1 + len(data) > self.max_day_records:
                raise TooLarge(
                    f"Anthropic's report for {day} has more than {self.max_day_records:,} "
                    "records; not read further"
                )
            for item in claude_code.parse_records(data, number):
                if isinstance(item, BadRow) or item.day == day:
                    yield item
            number += len(data)
            if not body.get("has_more"):
                return
            cursor = body.get("next_page")
            if not isinstance(cursor, str) or not cursor:
                raise ConnectorError(f"Anthropic said has_more for {day} but gave no next_page")
            if cursor in cursors:
                raise ConnectorError(
                    f"Anthropic's report for {day} gave, after page {page}, a next_page it had "
                    "given before; not read further, as its records would count twice"
                )
            cursors.add(cursor)
            params["page"] = cursor
        raise ConnectorError(f"Anthropic's report for {day} did not end after {MAX_PAGES} pages")
