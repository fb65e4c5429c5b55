"""Text helpers for every view: escaping untrusted text, numbers, dates, and messages back
to plain text.

Everything a person or a tool typed is escaped before it is shown (so `<!channel>` stays text)."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from storage.records import LeaderboardState

# Block Kit's limits (https://docs.slack.dev/reference/block-kit/blocks), with some room.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 3000
MAX_TOOLS_SHOWN = 15
MAX_NAME = 60
MAX_ECHO = 80


def escape(text: str) -> str:
    """Slack's three control characters, so typed text can never mention or link anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# What `escape` makes; a cut through one would leave Slack a stray `&l`.
_ENTITY = re.compile(r"&(?:amp|lt|gt);")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut; never cuts an escape such as
    `&lt;` in half, so escaped text can be clipped safely."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    start = text.rfind("&", max(0, cut - 4), cut)
    if start != -1 and (entity := _ENTITY.match(text, start)) and entity.end() > cut:
        cut = start
    return text[:cut] + "…"


def escaped(text: str, limit: int) -> str:
    """Untrusted text escaped, then held to `limit` characters: the limit is on what Slack
    receives, which escaping can make up to five times longer than what was typed."""
    return clip(escape(text), limit)


# mrkdwn has no escape for its emphasis marks. Slack reads `*`, `_` and `~` as marks only
# beside a word's edge (`claude_code` stays as typed), and a backtick anywhere: those become
# look-alikes that mean nothing to Slack, so `*x*` from an integration is never bold.
_MARK = re.compile(r"(?<![^\W_])[*_~]|[*_~](?![^\W_])|`")
_LOOK_ALIKE = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}


def shown_with_marks(text: str, limit: int = MAX_NAME) -> str:
    """The operator's own text (a badge's title and emoji): controls replaced, clipped and
    escaped, its emphasis marks kept as formatting."""
    return _visible(text, limit)


def _visible(text: str, limit: int) -> str:
    # Printable text has no control or format characters: most names, checked in C.
    visible = (
        text
        if text.isprintable()
        else "".join("?" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)
    )
    return escape(clip(visible, limit))


# Slack renders `:name:` as an emoji and links URLs, bare domains and emails as it receives
# them, with no escape for either. In a name someone else chose, the colons of a `:name:` and
# of a `://`, and a dot before a letter (`claude.ai`, `www.x.com`, `bob@corp.example`, never
# `gpt-4.1`), become look-alikes: U+2236 RATIO and U+2024 ONE DOT LEADER, which are not the
# ASCII `:` and `.` that emoji codes, schemes and host names are made of. A character that
# looks the same keeps the name readable as typed, where a hidden U+2060 word joiner would
# leave whether Slack still links to its linkifier's handling of invisible characters.
_EMOJI = re.compile(r":[\w+'-]+:")
# A `:word` ending a name (`12:30`) is an emoji code once our own text puts a colon after it
# (`• 12:30: 4 requests`), so its colon is a look-alike too. (No name of ours follows a colon.)
_EDGE_COLON = re.compile(r":(?=[\w+'-]+$)")
_LINKY = re.compile(r":(?=//)|(?<=\w)\.(?=[^\W\d_])")
_COLON, _DOT = "\u2236", "\u2024"


def _inert(text: str) -> str:
    """Text with its emoji codes and link-shaped words shown as look-alikes; scanned only
    when a colon or a dot is in it."""
    if ":" in text:
        text = _EMOJI.sub(lambda m: _COLON + m[0][1:-1] + _COLON, text)
        text = _EDGE_COLON.sub(_COLON, text)
    return _unlinked(text)


def _unlinked(text: str) -> str:
    """Text with the colon of a `://` and a dot before a letter shown as look-alikes."""
    if ":" in text or "." in text:
        return _LINKY.sub(lambda m: _COLON if m[0] == ":" else _DOT, text)
    return text


def shown(text: str, limit: int = MAX_NAME, *, inert: bool = True) -> str:
    """Untrusted text made safe to show in mrkdwn: controls replaced, clipped, escaped, and
    emphasis marks that Slack would read as formatting shown as look-alikes; with `inert` (the
    default), emoji codes and links too. The operator's badge titles keep theirs."""
    visible = _visible(text, limit)
    if inert:
        visible = _inert(visible)
    if "*" in visible or "_" in visible or "~" in visible or "`" in visible:
        return _MARK.sub(lambda m: _LOOK_ALIKE[m[0]], visible)
    return visible


def shown_as_code(text: str, limit: int = MAX_NAME) -> str:
    """Untrusted text made safe inside a `code` span, where only a backtick means anything to
    mrkdwn, but Slack still links a URL."""
    return _unlinked(_visible(text, limit)).replace("`", _LOOK_ALIKE["`"])


def number(n: int) -> str:
    return f"{n:,}"


def duration(seconds: int) -> str:
    """A wait in words: seconds up to a minute and a half, whole minutes (rounded up) past."""
    if seconds < 90:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.0%}"


# English names, as Slack's own English labels; strftime's would follow the process's locale
# and cost a formatting pass each (a `me` answer shows six days).
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_label(day: date) -> str:
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def time_label(moment: datetime) -> str:
    return f"{day_label(moment.date())}, {moment.hour:02}:{moment.minute:02}"


def when(moment: datetime) -> str:
    """A moment Slack shows in each reader's own zone; the fallback (UTC) is for clients and
    logs that cannot."""
    fallback = f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def channel_list(channels: Sequence[str]) -> str:
    return ", ".join(f"<#{c}>" for c in channels)


def by_line(state: LeaderboardState, *, since: bool = False) -> str:
    parts = []
    if state.changed_at is not None:
        parts.append(f"{'since' if since else 'on'} {when(state.changed_at)}")
    if state.changed_by:
        parts.append(f"by <@{state.changed_by}>")
    return (" " + " ".join(parts)) if parts else ""


_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)>")
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")


def plain(mrkdwn: str) -> str:
    """mrkdwn without emphasis marks, for the notification fallback."""
    return mrkdwn.replace("*", "").replace("`", "")


def as_text(blocks: Sequence[dict[str, Any]], names: dict[str, str] | None = None) -> str:
    """A message's blocks as readable plain text (for the demo and logs): mentions become
    @names, channels #IDs, dates their fallback, buttons [labels]; escapes are undone and
    emphasis marks dropped."""
    out: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            out += [title, "=" * len(title)]
        elif kind == "section":
            out.append(block["text"]["text"])
        elif kind == "context":
            out.append(" ".join(element.get("text", "") for element in block["elements"]))
        elif kind == "divider":
            out.append("-" * 40)
        elif kind == "actions":
            out.append("  ".join(f"[{e['text']['text']}]" for e in block["elements"]))
    text = "\n".join(out)
    text = _DATE.sub(lambda m: m[1], text)
    text = _MENTION.sub(lambda m: "@" + (names or {}).get(m[1], m[1]), text)
    text = _CHANNEL.sub(lambda m: "#" + m[1], text)
    return html.unescape(plain(text))
