"""Fake vendor admin APIs on loopback ports, built from the vendors' documented shapes: GitHub's
Copilot usage-metrics reports (with signed download links), Cursor's daily-usage-data,
Anthropic's Claude Code usage report, and the little of S3 that moto cannot be made to get
wrong. Each records its calls and can be told to fail."""

from __future__ import annotations

import base64
import gzip
import ssl
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeVendor:
    """A loopback HTTP server; subclasses answer in `answer`. `fail(path, ...)` queues
    answers that come before the real one, for 429s, 5xx and expired links."""

    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Answer]] = field(default_factory=lambda: defaultdict(list))
    # Seconds between the bytes of every answer's body: a vendor, or a proxy, that trickles.
    trickle: float | None = None
    trickle_paths: str = "/"  # only answers to paths starting with this
    gzip: bool = False  # every answer's body compressed, as `Content-Encoding: gzip`
    tls: ssl.SSLContext | None = None  # answer over HTTPS (tests/fakes/tls.py)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def do_HEAD(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        payload = orjson.dumps(body if body is not None else {"message": f"fake {status}"})
        self.failures[path] += [(status, headers or {}, payload)] * times

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        length = int(request.headers.get("content-length") or 0)
        call = Call(
            request.command,
            parts.path,
            {k: v[0] for k, v in parse_qs(parts.query).items()},
            {k.lower(): v for k, v in request.headers.items()},
            request.rfile.read(length) if length else b"",
        )
        self.calls.append(call)
        queued = self.failures.get(call.path)
        status, headers, body = queued.pop(0) if queued else self.answer(call)
        if self.gzip:
            body, headers = gzip.compress(body), {**headers, "content-encoding": "gzip"}
        request.send_response(status)
        for name, value in {"content-type": "application/json", **headers}.items():
            request.send_header(name, value)
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        if request.command == "HEAD":
            return
        if self.trickle is None or not call.path.startswith(self.trickle_paths):
            request.wfile.write(body)
            return
        for i in range(len(body)):
            time.sleep(self.trickle)
            try:
                request.wfile.write(body[i : i + 1])
                request.wfile.flush()
            except OSError:  # the client gave up
                return

    def answer(self, call: Call) -> Answer:
        raise NotImplementedError


def json_answer(status: int, body: Any) -> Answer:
    return status, {}, orjson.dumps(body)


@dataclass
class FakeGitHub(FakeVendor):
    """`GET /orgs/{org}/copilot/metrics/reports/{users-1-day|user-teams-1-day}?day=` answers
    `{"download_links": [...], "report_day": ...}`; the links serve NDJSON files in `files`."""

    token: str = "ghp_fake"
    org: str = "acme"
    users: dict[date, list[list[dict[str, Any]]]] = field(default_factory=dict)
    teams: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    teams_status: int = 200

    def answer(self, call: Call) -> Answer:
        if call.path.startswith("/download/"):
            _, _, report, day, index = call.path.split("/")
            if call.query.get("sig") != "s3cr3t-signature":
                return json_answer(403, {"message": "Request has expired"})
            if "authorization" in call.headers:
                return json_answer(400, {"message": "the GitHub token must not reach storage"})
            files = self.users if report == "users" else {d: [t] for d, t in self.teams.items()}
            records = files[date.fromisoformat(day)][int(index)]
            body = b"".join(orjson.dumps(r) + b"\n" for r in records)
            return 200, {"content-type": "application/x-ndjson"}, body
        if call.headers.get("authorization") != f"Bearer {self.token}":
            return json_answer(401, {"message": "Bad credentials"})
        prefix = f"/orgs/{self.org}/copilot/metrics/reports/"
        if not call.path.startswith(prefix):
            return json_answer(404, {"message": "Not Found"})
        report = call.path.removeprefix(prefix)
        day = date.fromisoformat(call.query["day"])
        if report == "user-teams-1-day":
            if self.teams_status != 200:
                return json_answer(self.teams_status, {"message": "Resource not accessible"})
            count = 1 if day in self.teams else 0
            kind = "teams"
        else:
            count = len(self.users.get(day, []))
            kind = "users"
        if count == 0:
            return 204, {}, b""
        links = [f"{self.url}/download/{kind}/{day}/{i}?sig=s3cr3t-signature" for i in range(count)]
        return json_answer(200, {"download_links": links, "report_day": day.isoformat()})


@dataclass
class FakeCursor(FakeVendor):
    """`POST /teams/daily-usage-data` with basic auth (key, empty password); windows of at
    most 30 days; answers `{"data": [...], "period": {...}}`."""

    key: str = "key_fake"
    records: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, call: Call) -> Answer:
        expected = "Basic " + base64.b64encode(f"{self.key}:".encode()).decode()
        if call.headers.get("authorization") != expected:
            return json_answer(401, {"error": "Unauthorized", "message": "Invalid API key"})
        body = orjson.loads(call.body)
        start, end = body["startDate"], body["endDate"]
        if end - start > 30 * 86_400_000:
            return json_answer(400, {"error": "Date range cannot exceed 30 days"})
        data = [r for r in self.records if start <= r["date"] <= end]
        return json_answer(200, {"data": data, "period": {"startDate": start, "endDate": end}})


def cursor_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


@dataclass
class FakeAnthropic(FakeVendor):
    """`GET /v1/organizations/usage_report/claude_code?starting_at=&limit=&page=` with
    `x-api-key` and `anthropic-version`; pages of `page_size` with has_more/next_page."""

    key: str = "sk-ant-admin-fake"
    records: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    page_size: int = 2

    def answer(self, call: Call) -> Answer:
        if call.headers.get("x-api-key") != self.key:
            return json_answer(
                401,
                {
                    "type": "error",
                    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                },
            )
        if call.headers.get("anthropic-version") != "2023-06-01":
            return json_answer(400, {"type": "error", "error": {"message": "version"}})
        day = date.fromisoformat(call.query["starting_at"])
        records = self.records.get(day, [])
        start = int(call.query.get("page", "0"))
        size = min(self.page_size, int(call.query.get("limit", "20")))
        page = records[start : start + size]
        more = start + size < len(records)
        return json_answer(
            200,
            {"data": page, "has_more": more, "next_page": str(start + size) if more else None},
        )


@dataclass
class FakeS3(FakeVendor):
    """HeadBucket, ListObjectsV2 and GetObject on path-style URLs of one bucket, signatures
    unchecked. `next_tokens` maps a listing page's continuation token ("" for the first) to
    the next page's, and may come round again; every page lists every object. After
    `max_pages` pages the listing ends, as a vendor's bug might not. A key in `refused` is
    listed, but reading it is refused as S3 refuses a bad signature, echoing the request."""

    bucket: str = "kiro-reports"
    objects: dict[str, bytes] = field(default_factory=dict)
    next_tokens: dict[str, str] = field(default_factory=dict)
    max_pages: int = 10
    refused: set[str] = field(default_factory=set)

    def answer(self, call: Call) -> Answer:
        if call.path == f"/{self.bucket}" and call.method == "HEAD":
            return 200, {"x-amz-bucket-region": "us-east-1"}, b""
        if call.path == f"/{self.bucket}" and call.query.get("list-type") == "2":
            pages = sum(1 for c in self.calls_to(call.path) if c.method == "GET")
            token = self.next_tokens.get(call.query.get("continuation-token", ""))
            more = token is not None and pages < self.max_pages
            return 200, {"content-type": "application/xml"}, self._page(token if more else None)
        key = call.path.removeprefix(f"/{self.bucket}/")
        if key in self.refused:
            query = "&amp;".join(f"{k}={v}" for k, v in call.query.items())
            return (
                403,
                {"content-type": "application/xml"},
                (
                    "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we "
                    "calculated does not match the signature you provided.</Message>"
                    f"<CanonicalRequest>GET {call.path} {query}</CanonicalRequest></Error>"
                ).encode(),
            )
        if key in self.objects:
            return 200, {"content-type": "text/csv"}, self.objects[key]
        return 404, {}, b"<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>"

    def _page(self, token: str | None) -> bytes:
        contents = "".join(
            f"<Contents><Key>{key}</Key><LastModified>2026-11-17T00:00:00.000Z</LastModified>"
            f"<Size>{len(body)}</Size></Contents>"
            for key, body in self.objects.items()
        )
        more = "<IsTruncated>true</IsTruncated>"
        more += f"<NextContinuationToken>{token}</NextContinuationToken>"
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{self.bucket}</Name>{contents}"
            f"{more if token else '<IsTruncated>false</IsTruncated>'}</ListBucketResult>"
        ).encode()
