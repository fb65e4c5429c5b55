"""Untrusted text (a vendor's error, a name someone chose) made safe to print to a terminal."""

from __future__ import annotations

import re


def printable(text: str, limit: int | None = None) -> str:
    """`text` with every control character (the start of an escape sequence that clears the
    screen, retitles the window or hides a link) replaced by `?`; cut at `limit` if given."""
    visible = text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)
    if limit is None or len(visible) <= limit:
        return visible
    return visible[: limit - 1] + "…"


# JSON encoders escape C0 (ESC, BEL) but write DEL and the C1 block raw; U+009B is CSI on its
# own, which many terminals honour. JSON's structure is ASCII, so these can only be inside
# strings, where a `\u00NN` escape reads back as the same character.
_RAW_IN_JSON = re.compile("[\x7f-\x9f]")


def json_for_terminal(text: str) -> str:
    """Encoded JSON with DEL and C1 controls escaped: still valid, and it reads back as the
    same data, but a terminal it is printed to sees no escape sequence."""
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
