"""The `kiro` connector: the per-client user reports Kiro writes to S3 each day, under
`<prefix>/…/KiroLogs/user_report/<region>/<yyyy>/<mm>/<dd>/<hh>/<CLIENT>_…_user_report_<ts>.csv`,
listed page by page to the end and read by the same parser as `aiusage import kiro`. The
standard AWS settings apply (credentials, region, `AWS_ENDPOINT_URL`). Listing pages and
reports are read over presigned links (`s3_links`), within the connectors' HTTP limits."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.connectors.http import VendorClient
from bot.connectors.limits import MAX_DAY_RECORDS, TooLarge, bounded_lines
from bot.connectors.s3_links import S3Links
from bot.intake import kiro
from bot.intake.vendor_report import DECODE_ERRORS, BadReport
from jobs.connector_items import Batch, ConnectorError
from storage.records import BadRow, ReportDay

_KEY = re.compile(
    r"KiroLogs/user_report/[^/]+/(\d{4})/(\d{2})/(\d{2})/(?:\d{2}/)?(?P<name>[^/]+)\.csv$"
)
_REVISION = re.compile(r"^(?P<series>.*?)_?(?P<ts>\d+)$")
S3_CONFIG = Config(
    connect_timeout=10,
    read_timeout=60,
    retries={"max_attempts": 6, "mode": "standard"},
    # Presigned links too are signed with SigV4, which every region opened since 2014
    # requires: botocore signs them with the older scheme otherwise.
    signature_version="s3v4",
)
# HeadBucket answers without a body, so botocore names its errors by their status only.
_HEAD_CODES = {"403": "AccessDenied", "404": "NoSuchBucket"}


@dataclass(frozen=True)
class ReportFile:
    key: str
    day: date
    series: str  # the file name less its timestamp: one client's report for the day
    revision: tuple[str, datetime]


def report_files(objects: Iterator[dict[str, Any]]) -> dict[date, list[ReportFile]]:
    """The newest file of each client's report per day (a rewrite supersedes the first)."""
    newest: dict[tuple[date, str], ReportFile] = {}
    for obj in objects:
        match = _KEY.search(obj["Key"])
        if match is None:
            continue
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
        name = match["name"]
        revision = _REVISION.match(name)
        series, stamp = (revision["series"], revision["ts"]) if revision else (name, "")
        found = ReportFile(obj["Key"], day, series, (stamp.zfill(20), obj["LastModified"]))
        seen = newest.get((day, series))
        if seen is None or found.revision > seen.revision:
            newest[(day, series)] = found
    by_day: dict[date, list[ReportFile]] = {}
    for file in sorted(newest.values(), key=lambda f: (f.day, f.key)):
        by_day.setdefault(file.day, []).append(file)
    return by_day


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


class KiroConnector:
    name = "kiro"
    page_size = 1000  # S3's own maximum per listing page
    max_day_records = MAX_DAY_RECORDS  # a day is held whole before it is written

    def __init__(self, uri: str, s3: Any | None = None, **client: Any) -> None:
        """`client` passes the retry, sleep, deadline and size knobs to the HTTP client."""
        self.bucket, self.prefix = split_uri(uri)
        self.s3 = s3 or boto3.client("s3", config=S3_CONFIG)
        self.reports = S3Links(self.bucket, self.s3, VendorClient("Kiro", "", **client))

    def close(self) -> None:
        self.reports.http.close()
        self.s3.close()

    def batches(self, first: date, last: date) -> Iterator[Batch]:
        for day, files in sorted(self._files().items()):
            if first <= day <= last:
                yield Batch((day,), self._read(files))

    def _files(self) -> dict[date, list[ReportFile]]:
        try:
            self.reports.find_region()
            prefix = f"{self.prefix}/" if self.prefix else ""
            return report_files(self.reports.objects(prefix, self.page_size))
        except (ClientError, BotoCoreError) as exc:
            raise ConnectorError(
                f"Kiro's reports in s3://{self.bucket}: {_s3_error(exc)}"
            ) from None

    def _read(self, files: list[ReportFile]) -> list[ReportDay | BadRow]:
        """The day's records, all its files', held to `max_day_records` (TooLarge past it)."""
        items: list[ReportDay | BadRow] = []
        for file in files:
            try:
                items.extend(self._read_file(file, self.max_day_records - len(items)))
            except (ClientError, BotoCoreError) as exc:
                raise ConnectorError(f"Kiro report {file.key}: {_s3_error(exc)}") from None
            except BadReport as exc:  # not a Kiro report, or a column named twice
                raise ConnectorError(f"Kiro report {file.key} is not readable: {exc}") from None
        return items

    def _read_file(self, file: ReportFile, room: int) -> list[ReportDay | BadRow]:
        """A report's records, at most `room` of them; one that stops, trickles past the
        client's deadline, inflates past its size limit or has a line past its line limit
        raises ConnectorError (TooLarge)."""
        http = self.reports.http
        with self.reports.get(file.key) as response:
            lines = bounded_lines(http.body(response), http.max_line, keepends=True)
            try:
                records = kiro.parse(codecs.iterdecode(lines, "utf-8-sig", DECODE_ERRORS))
                items = list(islice(records, room + 1))
                if len(items) <= room:
                    return items
                too_large = (
                    f"Kiro's reports for {file.day} have more than {self.max_day_records:,} "
                    f"records (at {file.key}); not read further"
                )
            except TooLarge as exc:
                too_large = f"Kiro report {file.key} {exc}"
        # raised out here: inside, the stream would name it by its link's host and path
        raise TooLarge(too_large)


def _s3_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "error"))
        return f"{_HEAD_CODES.get(code, code)}: {error.get('Message', '')}".strip(": ")
    return type(exc).__name__ + (f": {exc}" if "credential" in str(exc).lower() else "")
