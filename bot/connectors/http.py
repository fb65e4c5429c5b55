"""The HTTP side every vendor connector shares: timeouts, retries with backoff on 5xx, 429 and
network errors (honouring `Retry-After`), redirects that never take a key to another origin,
and error messages that never carry a key or a signed link."""

from __future__ import annotations

import html
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.connectors.limits import (
    MAX_ANSWER_BYTES,
    MAX_LINE_BYTES,
    MAX_REPORT_BYTES,
    TooLarge,
    bounded_lines,
    mib,
)
from bot.intake.vendor_report import DECODE_ERRORS
from jobs.connector_items import ConnectorError

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO; signed download links must not reach the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# An answer must arrive whole within this. The timeouts above are per read, so a vendor (or a
# proxy) that trickles a byte now and then never trips them: a sync held on by one kept the
# connectors' job, and its claim, on that replica, so no replica pulled again until a restart.
# A day's report for a large organisation arrives in seconds.
EXCHANGE_SECONDS = 300.0
RETRIES = 5
BACKOFF_SECONDS = 1.0
MAX_WAIT_SECONDS = 120.0
MAX_REDIRECTS = 5
USER_AGENT = "aiusage-connector/0.1 (+https://github.com/aiusage)"
_XML_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]{0,300})</Message>")


class KeyRefused(ConnectorError):
    """The vendor refused the credentials (401 or 403)."""


class NotReady(ConnectorError):
    """The vendor has no report for this day yet (Copilot answers 204 or 404)."""


def where(url: str | httpx.URL) -> str:
    """Host and path only: query strings of signed links are secrets."""
    parts = urlsplit(str(url))
    return f"{parts.netloc}{parts.path}"


def origin(url: str | httpx.URL) -> str:
    """Where a request goes, as a browser's same-origin rule sees it: scheme, host and port
    (never a path, a query or a user name)."""
    parsed = httpx.URL(url)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host  # IPv6
    port = f":{parsed.port}" if parsed.port is not None else ""  # None: the scheme's own
    return f"{parsed.scheme}://{host}{port}"


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds the vendor asks us to wait: `Retry-After` as seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def vendor_message(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    """The vendor's own error text, short and with any secret blanked."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        error = body.get("error")
        # Anthropic nests {"error": {"message"}}; GitHub and Cursor say {"message"} at the top
        nested = error.get("message") if isinstance(error, dict) else None
        text = str(nested or body.get("message") or error or "")
    else:
        text = str(body)
        code = _XML_CODE.search(text) if "<Error>" in text else None
        if code is not None:
            # S3's <Error>: its code and message only; the rest can echo a signed link's query
            message = _XML_MESSAGE.search(text)
            text = html.unescape(f"{code[1]}: {message[1] if message else ''}")
    text = " ".join(text.split())[:200]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class VendorClient:
    """An httpx client for one vendor; `sleep` is injectable so tests need not wait.

    Redirects are followed here, not by httpx, which drops only `Authorization` on a redirect
    to another origin: Anthropic's key, in `x-api-key`, went wherever a redirect from the API
    (or from anything between) pointed. A client that holds a secret (`secrets`, `auth`)
    follows a redirect only within the origin of `base_url`, scheme and port included, and
    fails naming the other one; a client without (signed download links) follows any."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        retries: int = RETRIES,
        backoff: float = BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        timeout: httpx.Timeout = TIMEOUT,
        deadline: float = EXCHANGE_SECONDS,
        max_bytes: int = MAX_ANSWER_BYTES,
        max_line: int = MAX_LINE_BYTES,
        max_report_bytes: int = MAX_REPORT_BYTES,
    ) -> None:
        self.vendor = vendor
        self.secrets = secrets
        self.retries, self.backoff, self.sleep = retries, backoff, sleep
        self.deadline = deadline
        self.max_bytes, self.max_line = max_bytes, max_line
        self.max_report_bytes = max_report_bytes
        self.home = origin(base_url) if secrets or auth is not None else None
        self.http = httpx.Client(
            base_url=base_url,
            headers={"user-agent": USER_AGENT, **(headers or {})},
            auth=auth,
            timeout=timeout,
            follow_redirects=False,  # see the class's docstring: `_follow`
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A whole response with a 2xx status (204 included); raises ConnectorError."""
        return self._send(method, url, kwargs, whole=True)

    @contextmanager
    def stream(self, method: str, url: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives; retried until its status is final.
        A body that stops, or trickles past the deadline, raises ConnectorError."""
        response = self._send(method, url, kwargs, whole=False)
        try:
            yield response
        except httpx.TransportError as exc:  # raised while the caller read the body
            raise ConnectorError(f"{self.vendor} {_failure(exc)} at {where(url)}") from None
        except TooLarge as exc:
            raise TooLarge(f"{self.vendor} {exc} at {where(url)}; not read further") from None
        finally:
            response.close()

    def lines(self, response: httpx.Response) -> Iterator[str]:
        """A streamed body's lines as text, each held to `max_line` bytes (TooLarge past it):
        httpx's own `iter_lines` holds a line however long it grows. Decoded as imports
        decode: the parser rejects a line that is not UTF-8, rather than keep a mangled name."""
        for line in bounded_lines(self.body(response), self.max_line):
            yield line.decode("utf-8", DECODE_ERRORS)

    def body(self, response: httpx.Response) -> Iterator[bytes]:
        """A streamed body (a report file) as it arrives, decoded, held to `max_report_bytes`
        in all (TooLarge past it): a report a few KB on the wire can inflate a thousandfold.
        Larger than a whole answer's limit: a large organisation's day is tens of MB."""
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_report_bytes:
                raise TooLarge(f"sent an answer larger than {mib(self.max_report_bytes)}")
            yield chunk

    def _send(self, method: str, url: str, kwargs: dict[str, Any], whole: bool) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            response = None
            try:
                request = self.http.build_request(method, url, **kwargs)
                ends = time.monotonic() + self.deadline
                response = self._follow(request, ends)
                response.stream = _Until(response.stream, ends, self.deadline)
                if whole or response.status_code >= 300:
                    response = _read_whole(response, self.max_bytes)
            except TooLarge as exc:
                raise TooLarge(f"{self.vendor} {exc} at {where(url)}; not read further") from None
            except httpx.TransportError as exc:
                if response is not None:
                    response.close()
                failure, wait = _failure(exc), None
            else:
                if response.status_code < 300:  # a 3xx here had nowhere to go: a failure
                    return response
                response.close()
                self._raise_final(response)
                failure, wait = f"answered HTTP {response.status_code}", retry_after(response)
            if attempt > self.retries:
                raise ConnectorError(
                    f"{self.vendor} {failure} at {where(url)}, still after {attempt} tries"
                )
            delay = wait if wait is not None else self.backoff * 2 ** (attempt - 1)
            delay = min(MAX_WAIT_SECONDS, delay) + (random.uniform(0, 0.1) if wait is None else 0)
            log.warning(
                "%s %s at %s; try %d of %d in %.1f s",
                self.vendor,
                failure,
                where(url),
                attempt + 1,
                self.retries + 1,
                delay,
            )
            self.sleep(delay)

    def _follow(self, request: httpx.Request, ends: float) -> httpx.Response:
        """The answer at the end of the request's redirects, each redirect's own body left
        unread (httpx would read it whole, past every limit here)."""
        asked = request.url
        for _ in range(MAX_REDIRECTS + 1):
            response = self.http.send(request, stream=True)
            following = response.next_request
            if following is None:
                return response
            response.close()
            there = origin(following.url)
            if self.home is not None and there != self.home:
                raise ConnectorError(
                    f"{self.vendor} redirected {where(asked)} to {there}, which was not "
                    f"followed: its key is sent to {self.home} only (if the API has moved, "
                    "set its URL to the new address)"
                )
            if time.monotonic() > ends:
                raise TooSlow(f"sent its answer too slowly: not whole after {self.deadline:g} s")
            request = following
        raise ConnectorError(
            f"{self.vendor} redirected {where(asked)} more than {MAX_REDIRECTS} times"
        )

    def _raise_final(self, response: httpx.Response) -> None:
        """Raise for answers that retrying cannot change; return for 429 and 5xx."""
        status = response.status_code
        if status == 429 or status >= 500:
            return
        message = vendor_message(response, self.secrets)
        detail = f": {message}" if message else ""
        if status in (401, 403):
            raise KeyRefused(
                f"{self.vendor} refused the key (HTTP {status}){detail}; check it and its "
                "permissions"
            )
        if status == 404:
            raise NotReady(f"{self.vendor} has nothing at {where(response.url)}{detail}")
        raise ConnectorError(
            f"{self.vendor} answered HTTP {status} at {where(response.url)}{detail}"
        )


def _read_whole(response: httpx.Response, limit: int) -> httpx.Response:
    """The response with its body read and decoded, refusing it past `limit` bytes once
    decoded: httpx's own `read` would inflate a compressed body whatever it grows to."""
    chunks, size = [], 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"sent an answer larger than {mib(limit)}")
            chunks.append(chunk)
    finally:
        response.close()
    # The body as read, so nothing decodes it again.
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-encoding"]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=response.request,
        extensions=response.extensions,
    )


class TooSlow(httpx.ReadTimeout):
    """An answer still not whole at the exchange's deadline."""


class _Until(httpx.SyncByteStream):
    """A response body that must have arrived whole by `ends` (a monotonic time)."""

    def __init__(
        self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, ends: float, seconds: float
    ) -> None:
        assert isinstance(inner, httpx.SyncByteStream)
        self.inner, self.ends, self.seconds = inner, ends, seconds

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            if time.monotonic() > self.ends:
                raise TooSlow(f"sent its answer too slowly: not whole after {self.seconds:g} s")
            yield chunk

    def close(self) -> None:
        self.inner.close()


def _failure(exc: httpx.TransportError) -> str:
    if isinstance(exc, TooSlow):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"unreachable ({type(exc).__name__})"
