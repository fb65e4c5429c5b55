"""Request bodies' Content-Encoding: as sent, or gzip inflated under a limit, so a small bomb
cannot fill memory. Pure: bytes in, bytes out."""

from __future__ import annotations

import zlib

GZIP = "gzip"
_INFLATE_STEP = 1024 * 1024
_FEED_STEP = 4096
_GZIP_MAGIC = b"\x1f\x8b"


class BadEncoding(ValueError):
    """The body cannot be read as its Content-Encoding says; `status` is the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def decoded(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body as sent (`identity` or no Content-Encoding) or inflated (`gzip`), refusing
    any other encoding (415) and an inflated body past `limit` bytes (413)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in (GZIP, "x-gzip"):  # HTTP counts x-gzip as gzip (RFC 9110, 8.4.1.3)
        return gunzip(body, limit)
    if encoding != "identity":
        raise BadEncoding(415, f"Content-Encoding {encoding!r} is not supported; use gzip")
    return body


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress gzip, every member of it (RFC 1952 2.2: what pigz and streaming clients
    send), refusing (413) output past `limit` in all and (400) bytes after the last member.
    Inflated a megabyte at a time into one growing buffer: the peak is the output, not twice
    it, as one call with a limit would allocate."""
    out = bytearray()
    view = memoryview(body)
    position = 0
    try:
        while True:
            position = _inflate_member(view, position, out, limit)
            if position == len(view):
                return out  # type: ignore[return-value]  # a bytearray reads as bytes everywhere
            if view[position : position + 2] != _GZIP_MAGIC:
                raise BadEncoding(400, "gzip body has bytes after its end that are not gzip")
    except zlib.error as exc:
        raise BadEncoding(400, f"body is not valid gzip: {exc}") from None


def _inflate_member(body: memoryview, position: int, out: bytearray, limit: int) -> int:
    """Inflate the gzip member at `position` onto `out`; where the next one would start. Fed
    a slice at a time: zlib copies what follows a member's end, which for every member of a
    body of many tiny ones would be quadratic."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    while not inflater.eof:
        fed = body[position : position + _FEED_STEP]
        if not fed:
            raise BadEncoding(400, "gzip body is truncated")  # the input ended first
        out += inflater.decompress(fed, _INFLATE_STEP)
        position += len(fed) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
        if len(out) > limit:
            raise BadEncoding(413, f"decompressed body is larger than {limit} bytes")
    return position
