"""What `/aiusage org [TEAM]` answers, as plain data for `bot.org_blocks`. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.answers import Viewer
from jobs.org import OrgRefusal, OrgView


@dataclass(frozen=True, slots=True)
class OrgChart:
    """The trend chart: an image URL Slack fetches (HTTP mode), or an uploaded file's id."""

    alt_text: str
    image_url: str | None = None
    slack_file_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrgShown:
    viewer: Viewer
    as_of: datetime
    view: OrgView
    chart: OrgChart | None = None


@dataclass(frozen=True, slots=True)
class OrgNotAllowed:
    """The caller is neither an admin nor an insight viewer; nothing was shown."""


@dataclass(frozen=True, slots=True)
class OrgRefused:
    """The view exists for the caller but not for this scope (see `OrgRefusal.reason`)."""

    refusal: OrgRefusal


OrgAnswer = OrgShown | OrgNotAllowed | OrgRefused
