"""An ephemeral reply and the block primitives every view builds with; each keeps inside
Block Kit's limits however long the names or lists are."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slack.answers import (
    Viewer,
)
from bot.slack.views.text import (
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    clip,
    number,
    plain,
    time_label,
)


@dataclass(frozen=True, slots=True)
class Reply:
    """An ephemeral message: blocks plus the plain-text fallback notifications show."""

    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        """Arguments for `ack`/`respond`: visible only to the caller."""
        return {"response_type": "ephemeral", "text": self.text, "blocks": self.blocks}


def note(text: str) -> Reply:
    return Reply(clip(plain(text), MAX_FALLBACK_TEXT), [section(text)])


# Where a template's text goes; no real text is ever this.
_SLOT = "\x00slot\x00"


class Filled(Block):
    """A block of slack_sdk.models, built and validated once as a template, with one text
    filled in. Building and validating the same few blocks on every answer was a third of
    what `/aiusage me` cost; the text is held to the block's limit by whoever fills it."""

    def __init__(self, template: dict[str, Any], text: str) -> None:
        super().__init__(type=template["type"])
        self._template = template
        self._text = text

    def to_dict(self) -> dict[str, Any]:
        filled: dict[str, Any] = _fill(self._template, self._text)
        return filled


def _fill(template: Any, text: str) -> Any:
    if isinstance(template, dict):
        return {key: _fill(value, text) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, text) for value in template]
    return text if template == _SLOT else template


_HEADER = HeaderBlock(text=_SLOT).to_dict()
_SECTION = SectionBlock(text=MarkdownTextObject(text=_SLOT)).to_dict()
_CONTEXT = ContextBlock(elements=[MarkdownTextObject(text=_SLOT)]).to_dict()
_DIVIDER = DividerBlock().to_dict()


def header(text: str) -> Block:
    return Filled(_HEADER, clip(text, MAX_HEADER_TEXT))


def section(text: str) -> Block:
    return Filled(_SECTION, clip(text, MAX_SECTION_TEXT))


def context(text: str) -> Block:
    """A context line of mrkdwn."""
    return Filled(_CONTEXT, text)


def divider() -> Block:
    return Filled(_DIVIDER, "")


def sections(lines: Iterable[str], max_blocks: int) -> Iterable[Block]:
    """Lines packed into as few sections as fit, and at most `max_blocks` of them."""
    chunks: list[list[str]] = [[]]
    size = 0
    for line in lines:
        line = clip(line, MAX_SECTION_TEXT - 50)
        if chunks[-1] and size + len(line) + 1 > MAX_SECTION_TEXT - 50:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line) + 1
    if len(chunks) > max_blocks:
        dropped = sum(len(c) for c in chunks[max_blocks - 1 :])
        chunks = [*chunks[: max_blocks - 1], [f"…and {number(dropped)} more"]]
    return (section("\n".join(chunk)) for chunk in chunks)


def as_of(moment: datetime, viewer: Viewer) -> Block:
    return context(
        f"As of {time_label(moment)} your time ({viewer.tz.key}). Only you can see this."
    )
