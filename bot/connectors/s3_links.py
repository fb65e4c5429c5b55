"""S3 read through presigned links and the connectors' own HTTP client (`VendorClient`).

botocore's timeouts are per read, so an S3 answer (a listing page or a report) that trickled
a byte now and then held the connectors' sync, and its claim across replicas, for good; and
a read blocked inside botocore cannot be ended from another thread (closing its body waits on
the reader's lock until that read returns). Here boto3 only signs links, and learns the
bucket's region once, from a HEAD without a body; every byte is read by `VendorClient`,
within its exchange deadline, size and line limits, with its retries. A presigned link's
query is a credential: it is never logged, and errors name its host and path only."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import httpx

from bot.connectors.http import VendorClient
from jobs.connector_items import ConnectorError

# A link outlives every try of its exchange (6 of up to 5 minutes, and the waits between
# them); it never leaves this process.
LINK_SECONDS = 3600


class S3Links:
    """One bucket, listed and read over presigned links; `s3` is a boto3 S3 client, whose
    credentials sign them."""

    def __init__(self, bucket: str, s3: Any, http: VendorClient) -> None:
        self.bucket, self.s3, self.http = bucket, s3, http

    def find_region(self) -> None:
        """Asks for the bucket (HEAD), so that botocore learns its region when it is not the
        client's, as a boto3 call would; links signed for the wrong region are refused.
        Raises botocore's errors."""
        self.s3.head_bucket(Bucket=self.bucket)

    def objects(self, prefix: str, page_size: int) -> Iterator[dict[str, Any]]:
        """Every object under `prefix` as {"Key", "LastModified"}, listed page by page to the
        end. A continuation token given before stops it: the pages would come round again
        without end."""
        params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": page_size}
        tokens: set[str] = set()
        page = 0
        while True:
            page += 1
            answer = self.http.request("GET", self._link("list_objects_v2", **params))
            objects, token = listing_page(answer.content)
            yield from objects
            if token is None:
                return
            if token in tokens:
                raise ConnectorError(
                    f"{self.http.vendor}'s listing of s3://{self.bucket}/{prefix} gave, after "
                    f"page {page}, a continuation token it had given before; not listed further"
                )
            tokens.add(token)
            params["ContinuationToken"] = token

    @contextmanager
    def get(self, key: str) -> Iterator[httpx.Response]:
        """The object's body, read as it arrives (`VendorClient.stream`)."""
        with self.http.stream("GET", self._link("get_object", Key=key)) as response:
            yield response

    def _link(self, operation: str, **params: Any) -> str:
        return dot_segments_kept(
            str(
                self.s3.generate_presigned_url(
                    operation, Params={"Bucket": self.bucket, **params}, ExpiresIn=LINK_SECONDS
                )
            )
        )


def dot_segments_kept(link: str) -> str:
    """The link with each `.` or `..` segment of its path percent-encoded. A key may hold
    such segments (`reports/x/../a.csv` is a key of its own), and httpx removes them from a
    URL's path, which asked for another object. S3 takes the key from the decoded path and
    signs it with `.` unencoded, as botocore signed the link, so the signature still holds."""
    head, query_mark, query = link.partition("?")
    scheme_end = head.find("://")
    start = head.find("/", scheme_end + 3 if scheme_end >= 0 else 0)
    if start < 0:
        return link
    segments = head[start:].split("/")
    if "." not in segments and ".." not in segments:
        return link
    path = "/".join(
        segment.replace(".", "%2E") if segment in (".", "..") else segment for segment in segments
    )
    return f"{head[:start]}{path}{query_mark}{query}"


def listing_page(body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """A ListObjectsV2 answer's objects, and the next page's token (None at the end)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ConnectorError(f"S3's listing is not readable XML: {exc}") from None
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    if root.tag != f"{ns}ListBucketResult":
        raise ConnectorError(f"S3 answered a listing with {root.tag.removeprefix(ns)[:40]}")
    # Keys come URL-encoded when asked so (botocore asks), as botocore decodes them.
    encoded = root.findtext(f"{ns}EncodingType") == "url"
    objects = []
    for item in root.iterfind(f"{ns}Contents"):
        key, modified = item.findtext(f"{ns}Key"), item.findtext(f"{ns}LastModified")
        try:
            when = datetime.fromisoformat(modified or "")
        except ValueError:
            when = None
        if not key or when is None or when.tzinfo is None:
            raise ConnectorError("S3's listing has an object without a key or a time")
        objects.append({"Key": unquote_plus(key) if encoded else key, "LastModified": when})
    if root.findtext(f"{ns}IsTruncated") != "true":
        return objects, None
    token = root.findtext(f"{ns}NextContinuationToken")
    if not token:
        raise ConnectorError("S3's listing said there was more but gave no continuation token")
    return objects, token
