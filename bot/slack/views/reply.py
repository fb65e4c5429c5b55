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


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=clip(text, MAX_HEADER_TEXT))


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION_TEXT)))


def sections(lines: Iterable[str], max_blocks: int) -> Iterable[SectionBlock]:
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


def as_of(moment: datetime, viewer: Viewer) -> ContextBlock:
    return ContextBlock(
        elements=[
            MarkdownTextObject(
                text=f"As of {time_label(moment)} your time ({viewer.tz.key}). "
                "Only you can see this."
            )
        ]
    )
