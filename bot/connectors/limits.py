"""How much of a vendor's answer a connector takes into memory: a whole answer (a JSON page)
and any one line of a report read line by line. A vendor or proxy that goes wrong, or a
compressed body that inflates a thousandfold, would otherwise grow a replica until the
kernel killed it, and the next sync would do it again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from jobs.connector_items import ConnectorError

# A JSON page or a window of Cursor's daily usage, which asks again for a window past it in
# halves: held as bytes, then as text, then parsed, 32 MiB is already ~90 MB of a replica.
MAX_ANSWER_BYTES = 32 * 2**20
# A report file read line by line (Copilot's NDJSON, Kiro's CSV), once inflated: its records
# are held until the day is written, but MAX_DAY_RECORDS bounds those, and a day's report of
# a large organisation is tens of MB. This only stops a body inflating without end.
MAX_REPORT_BYTES = 2**30
# A report line is one person's day: a few KB.
MAX_LINE_BYTES = 16 * 2**20
# Records of one day a connector gathers before handing the day over, since a day is written
# only once fetched whole. A record is about one person's day, some 0.5 KB once parsed: this
# is ~100 MB, and more people than an organisation has seats.
MAX_DAY_RECORDS = 200_000


class TooLarge(ConnectorError):
    """An answer, or one line of it, past what a connector takes; asking again would not help."""


def mib(size: int) -> str:
    """A limit in words: "32 MiB", or bytes when it is less than one."""
    return f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size:,} bytes"


def bounded_lines(
    chunks: Iterable[bytes], limit: int, *, keepends: bool = False
) -> Iterator[bytes]:
    """The lines of a body that arrives in chunks, split where `bytes.splitlines` splits;
    raises TooLarge once a line is past `limit` bytes, before more of it is held."""
    parts: list[bytes] = []  # the line under way, in the chunks it came in
    held = 0
    for chunk in chunks:
        if b"\n" not in chunk and b"\r" not in chunk:
            parts.append(chunk)
            held += len(chunk)
            if held > limit:
                raise TooLarge(f"sent a line longer than {mib(limit)}")
            continue
        lines = (b"".join(parts) + chunk).splitlines(True)
        parts, held = [], 0
        if not lines[-1].endswith(b"\n"):  # unfinished, or a "\r" whose "\n" may follow
            parts, held = [lines[-1]], len(lines[-1])
            del lines[-1]
        for line in lines:
            if len(line) > limit:
                raise TooLarge(f"sent a line longer than {mib(limit)}")
            yield line if keepends else line.rstrip(b"\r\n")
        if held > limit:
            raise TooLarge(f"sent a line longer than {mib(limit)}")
    # splitlines again: a held "\r" may have ended a line after all
    for line in b"".join(parts).splitlines(True):
        yield line if keepends else line.rstrip(b"\r\n")
