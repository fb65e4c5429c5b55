"""Untrusted text (a vendor's error, a name someone chose) made safe to print to a terminal."""

from __future__ import annotations


def printable(text: str, limit: int | None = None) -> str:
    """`text` with every control character (the start of an escape sequence that clears the
    screen, retitles the window or hides a link) replaced by `?`; cut at `limit` if given."""
    visible = text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)
    if limit is None or len(visible) <= limit:
        return visible
    return visible[: limit - 1] + "…"
