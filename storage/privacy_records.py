"""The plain data of the privacy functions: who a request is about, and what is stored."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

IdentityKey = tuple[str, str]
STAND_IN = "someone"  # what an identifier in a still-owed announcement becomes


@dataclass(frozen=True, slots=True)
class Subject:
    """One person (or one unlinked identity) as stored: what a forget or export covers."""

    person_id: int | None
    slack_user_id: str | None
    email: str | None
    identities: tuple[tuple[int, str, str], ...]  # (id, kind, value)

    @property
    def identity_ids(self) -> list[int]:
        return sorted(i for i, _, _ in self.identities)

    def keys(self) -> list[IdentityKey]:
        """Every identity usage may arrive under for this person."""
        keys = {(kind, value) for _, kind, value in self.identities}
        if self.slack_user_id:
            keys.add(("slack", self.slack_user_id))
        if self.email:
            keys.add(("email", self.email.lower()))
        return sorted(keys)

    def needles(self) -> list[str]:
        """The strings that identify the person, to scrub from free text."""
        return sorted({value for _, value in self.keys()})


@dataclass(frozen=True, slots=True)
class Span:
    """How many rows of one kind, and the days they cover."""

    count: int = 0
    first: date | None = None
    last: date | None = None


@dataclass(frozen=True, slots=True)
class TeamSpell:
    """A spell of the person in a team, in local days (None: always / still). Copilot's
    report gives no dates, only the day of the report that lists them (`reported_on`)."""

    name: str
    source: str
    since: date | None = None
    until: date | None = None
    reported_on: date | None = None


@dataclass(frozen=True, slots=True)
class Inventory:
    """What is stored about a person, in counts and date ranges: the `mydata` answer."""

    profile: dict[str, Any]
    identities: list[IdentityKey]
    events: Span
    daily: Span
    awards: Span
    flags: Span
    audit_entries: int
    teams: list[TeamSpell] = field(default_factory=list)  # for the org view
    digest_on: bool = False


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What one forget deleted (counts only) and the weeks whose award posts named them."""

    counts: dict[str, int]
    award_weeks: list[date] = field(default_factory=list)
    chart_files: list[str] = field(default_factory=list)  # their App Home chart in Slack

    def summary(self) -> str:
        return " ".join(f"{name}={n}" for name, n in self.counts.items())


def redact(text: str, needles: Iterable[str]) -> str:
    """`text` with every identifier of the person (and any Slack mention or mailto link
    made of one) replaced by a neutral word, so the rest of the message still says what
    it said. Longest first, so an email goes whole before a shorter identifier inside it."""
    for needle in sorted(set(needles), key=len, reverse=True):
        quoted = re.escape(needle)
        text = re.sub(rf"<(?:@|mailto:){quoted}(?:\|[^>]*)?>", STAND_IN, text, flags=re.I)
        text = re.sub(quoted, STAND_IN, text, flags=re.I)
    return text
