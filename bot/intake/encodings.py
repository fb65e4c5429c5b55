"""Request bodies' Content-Encoding: as sent, or gzip inflated under a limit, so a small bomb
cannot fill memory. Pure: bytes in, bytes out."""

from __future__ import annotations

import zlib

GZIP = "gzip"
_INFLATE_STEP = 1024 * 1024


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
    """Decompress gzip, refusing (413) output past `limit`. Inflated a megabyte at a time
    into one growing buffer: the peak is the output, not twice it, as one call with a limit
    would allocate."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = body
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, _INFLATE_STEP)
            if not chunk and len(inflater.unconsumed_tail) == len(pending):
                break  # no progress: the input ended before the gzip stream did
            pending = inflater.unconsumed_tail
            out += chunk
            if len(out) > limit:
                raise BadEncoding(413, f"decompressed body is larger than {limit} bytes")
    except zlib.error as exc:
        raise BadEncoding(400, f"body is not valid gzip: {exc}") from None
    if not inflater.eof:
        raise BadEncoding(400, "gzip body is truncated")
    return out  # type: ignore[return-value]  # a bytearray reads as bytes everywhere it goes
