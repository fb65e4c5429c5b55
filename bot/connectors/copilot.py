"""The `copilot` connector: GitHub's Copilot usage metrics reports, one day per request. The
report endpoint answers with signed download links to NDJSON files, which are streamed
through the same parser as `aiusage import copilot`. The user-teams report is read too, where
the token allows it, and handed on as the day's team memberships (the sync job stores them)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from itertools import islice
from typing import TypeVar

from bot.connectors.copilot_child import Recipe, fetch_in_child
from bot.connectors.http import NotReady, VendorClient
from bot.connectors.limits import MAX_DAY_RECORDS, TooLarge
from bot.intake import copilot, copilot_teams
from jobs.connector_items import Batch, ConnectorError, TeamMembers
from storage.records import BadRow, ReportDay

log = logging.getLogger(__name__)
T = TypeVar("T")

API_VERSION = "2022-11-28"
LINK_REFRESHES = 2  # signed links expire; ask the report endpoint again this many times
RECENT_DAYS = 2  # a 404 this close to today means "not ready yet", not a wrong setting
# A range this long (a backfill) is fetched and parsed in a child process, while this one
# writes (`copilot_child`); a scheduled pull of a few days is not worth starting one for.
CHILD_DAYS = 8


class CopilotConnector:
    name = "copilot"
    max_day_records = MAX_DAY_RECORDS

    def __init__(
        self,
        api: VendorClient,
        downloads: VendorClient,
        scope: str,
        today: date,
    ) -> None:
        self.api, self.downloads, self.scope, self.today = api, downloads, scope, today
        self.teams_allowed = True
        # How to build this connector again in a child process; None when it was given
        # clients or knobs a child cannot rebuild (tests' transports, sleep functions).
        self.recipe: Recipe | None = None

    @classmethod
    def build(
        cls,
        base_url: str,
        token: str,
        *,
        org: str | None,
        enterprise: str | None,
        today: date,
        **client: object,
    ) -> CopilotConnector:
        scope = f"/enterprises/{enterprise}" if enterprise else f"/orgs/{org}"
        api = VendorClient(
            "GitHub",
            base_url,
            headers={
                "authorization": f"Bearer {token}",
                "accept": "application/vnd.github+json",
                "x-github-api-version": API_VERSION,
            },
            secrets=(token,),
            **client,  # type: ignore[arg-type]
        )
        downloads = VendorClient("GitHub report download", base_url, **client)  # type: ignore[arg-type]
        connector = cls(api, downloads, scope, today)
        if not client:
            connector.recipe = Recipe(base_url, token, org, enterprise, today)
        return connector

    def close(self) -> None:
        self.api.close()
        self.downloads.close()

    def batches(self, first: date, last: date) -> Iterator[Batch | TeamMembers]:
        """Day by day, each followed by its team memberships where the token may read them
        (`sync_one` asks for the next day while this one is written); a long range from a
        child process (`copilot_child`), the same items in the same order."""
        if self.recipe is not None and (last - first).days + 1 >= CHILD_DAYS:
            return fetch_in_child(self.recipe, first, last)
        return self.batches_here(first, last)

    def batches_here(self, first: date, last: date) -> Iterator[Batch | TeamMembers]:
        """`batches`, fetched and parsed in this process."""
        for day in (first + timedelta(days=n) for n in range((last - first).days + 1)):
            items = self._day(day)
            if items is None:
                log.info("copilot: no report for %s yet; stopping there", day)
                return
            yield Batch((day,), items)
            if self.teams_allowed:
                teams = self._teams(day)
                if teams is not None:
                    yield teams

    def _day(self, day: date) -> list[ReportDay | BadRow] | None:
        """The day's records; None when GitHub has no report for it yet. A record of another
        day is left out, as the other connectors leave out what they did not ask for: the
        report was asked for this day only, and only this day is cleared and recorded as
        fetched (a record of 9999-12-31 would otherwise be stored beside it)."""
        links = self._links("users-1-day", day)
        if links is None:
            return None
        kept: list[ReportDay | BadRow] = []
        others = 0
        for item in self._records(day, links):
            if isinstance(item, BadRow) or item.day == day:
                kept.append(item)
            else:
                others += 1
        if others:
            log.warning(
                "copilot: the report for %s held %d records of other days; left out", day, others
            )
        return kept

    def _links(self, report: str, day: date) -> list[str] | None:
        """The day's signed links; None when GitHub has no report for the day yet."""
        url = f"{self.scope}/copilot/metrics/reports/{report}"
        try:
            response = self.api.request("GET", url, params={"day": day.isoformat()})
        except NotReady as exc:
            if day >= self.today - timedelta(days=RECENT_DAYS):
                return None
            raise ConnectorError(
                f"{exc}; is the organisation or enterprise right, and the Copilot usage "
                "metrics policy on?"
            ) from None
        if response.status_code == 204:
            return None
        body = response.json()
        links = body.get("download_links") if isinstance(body, dict) else None
        if not isinstance(links, list) or not all(isinstance(x, str) for x in links):
            raise ConnectorError(f"GitHub's {report} answer for {day} has no download_links")
        if len(set(links)) < len(links):  # a day's files add up: one read twice counts twice
            raise ConnectorError(
                f"GitHub's {report} answer for {day} lists a download link twice; not read, "
                "as its records would count twice"
            )
        return links

    def _records(self, day: date, links: list[str]) -> Iterator[ReportDay | BadRow]:
        """Every record of every file of the day, numbered across the day. A file is read
        whole before its records are kept, so a link that expires mid-way is fetched again
        from a fresh link without counting anything twice. The day is held whole before it is
        written, so it is held to `max_day_records` (TooLarge past it)."""
        count = 0
        for index in range(len(links)):
            room = self.max_day_records - count
            items = self._download("users-1-day", day, links, index, copilot.parse, room + 1)
            if len(items) > room:
                raise TooLarge(
                    f"GitHub's report for {day} has more than {self.max_day_records:,} "
                    "records; not read further"
                )
            count += len(items)
            yield from items

    def _download(
        self,
        report: str,
        day: date,
        links: list[str],
        index: int,
        parse: Callable[[Iterable[str]], Iterator[T]],
        most: int | None = None,
    ) -> list[T]:
        """A file's items, `most` of them at most."""
        refreshes = 0
        while True:
            try:
                with self.downloads.stream("GET", links[index]) as response:
                    return list(islice(parse(self.downloads.lines(response)), most))
            except TooLarge:
                raise  # a fresh link would serve the same file
            except ConnectorError as exc:
                if refreshes >= LINK_REFRESHES:
                    raise ConnectorError(
                        f"GitHub's report file {index + 1} for {day} could not be downloaded: {exc}"
                    ) from None
                refreshes += 1
                log.warning("copilot: download link for %s failed (%s); asking again", day, exc)
                fresh = self._links(report, day)
                if fresh is None or len(fresh) <= index:
                    raise ConnectorError(f"GitHub withdrew the report for {day}") from None
                links[:] = fresh

    def _teams(self, day: date) -> TeamMembers | None:
        """The day's user-teams report as (team, login) pairs; None when there is none yet. A
        token that may not read it turns this off for the run, quietly after one warning."""
        try:
            links = self._links("user-teams-1-day", day)
        except ConnectorError as exc:
            self.teams_allowed = False
            log.warning("copilot: team memberships not read: %s", exc)
            return None
        if links is None:
            return None
        members: list[tuple[str, str]] = []
        for index in range(len(links)):
            for item in self._download("user-teams-1-day", day, links, index, copilot_teams.parse):
                if isinstance(item, BadRow):
                    log.warning("copilot user-teams %s: line %d: %s", day, item.line, item.error)
                else:
                    members.append((item[1], item[2]))
        return TeamMembers(day, tuple(members))
