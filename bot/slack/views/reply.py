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


class _Template:
    """A block built and validated once by slack_sdk.models, and where in it the text goes."""

    def __init__(self, block: Block) -> None:
        self.block: dict[str, Any] = block.to_dict()
        self.path = _slot_path(self.block) or ()

    def fill(self, text: str) -> dict[str, Any]:
        """A copy with `text` in the slot: only the containers on the way to it are copied,
        the rest is the template's own (nothing changes a block once it is built)."""
        top = dict(self.block)
        if not self.path:
            return top
        node: Any = top
        for key in self.path[:-1]:
            child = node[key]
            node[key] = child = dict(child) if isinstance(child, dict) else list(child)
            node = child
        node[self.path[-1]] = text
        return top


def _slot_path(node: Any) -> tuple[Any, ...] | None:
    """The keys and indexes that lead to the slot, or None when there is none."""
    entries = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in entries:
        if value == _SLOT:
            return (key,)
        if isinstance(value, dict | list) and (rest := _slot_path(value)) is not None:
            return (key, *rest)
    return None


class Filled(Block):
    """A block of slack_sdk.models, built and validated once as a template, with one text
    filled in. Building and validating the same few blocks on every answer was a third of
    what `/aiusage me` cost; the text is held to the block's limit by whoever fills it."""

    def __init__(self, template: _Template, text: str) -> None:
        super().__init__(type=template.block["type"])
        self._template = template
        self._text = text

    def to_dict(self) -> dict[str, Any]:
        return self._template.fill(self._text)


_HEADER = _Template(HeaderBlock(text=_SLOT))
_SECTION = _Template(SectionBlock(text=MarkdownTextObject(text=_SLOT)))
_CONTEXT = _Template(ContextBlock(elements=[MarkdownTextObject(text=_SLOT)]))
_DIVIDER = _Template(DividerBlock())


def header(text: str) -> Block:
    return Filled(_HEADER, clip(text, MAX_HEADER_TEXT))


def section(text: str) -> Block:
    return Filled(_SECTION, clip(text, MAX_SECTION_TEXT))


def context(text: str) -> Block:
    """A context line of mrkdwn."""
    return Filled(_CONTEXT, clip(text, MAX_SECTION_TEXT))


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
