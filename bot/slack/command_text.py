"""What `/aiusage <text>` asks for: a pure parse of the typed text into one request type."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.admin_rules import MAX_TEXT, is_control, text_refused

# MAX_TEXT: longer input is not a command anyone typed, nor an announcement anyone should
# post (`jobs.admin_rules.text_refused`, the rule `aiusage admin` keeps too); Slack passes up
# to about 4,000 characters, so an over-long announcement is told it is.


@dataclass(frozen=True, slots=True)
class Me:
    """The caller's usage this week against last week."""


@dataclass(frozen=True, slots=True)
class Top:
    """This week's leaderboard and the caller's place."""


@dataclass(frozen=True, slots=True)
class Badges:
    """The caller's awards, newest first."""


@dataclass(frozen=True, slots=True)
class OptOut:
    """Leave the public leaderboard and award posts."""


@dataclass(frozen=True, slots=True)
class OptIn:
    """Rejoin the public leaderboard and award posts."""


@dataclass(frozen=True, slots=True)
class Help:
    """What each subcommand does; `unknown` is the text we did not understand, if any."""

    unknown: str | None = None


@dataclass(frozen=True, slots=True)
class Retire:
    """Admins: retire the leaderboard and post `announcement` (empty: the default one)."""

    announcement: str = ""


@dataclass(frozen=True, slots=True)
class Restore:
    """Admins: bring the leaderboard and awards back, posting `note` if one is given."""

    note: str = ""


@dataclass(frozen=True, slots=True)
class TooLong:
    """Admins: a `retire` announcement or `restore` note of `length` characters, past `limit`."""

    command: str
    length: int
    limit: int = MAX_TEXT


@dataclass(frozen=True, slots=True)
class Status:
    """Admins: state, schedule, channels, last award post, integrations."""


@dataclass(frozen=True, slots=True)
class Digest:
    """Turn the weekly digest by direct message on or off."""

    on: bool


@dataclass(frozen=True, slots=True)
class Org:
    """Admins and insight viewers: cost and efficiency by tool and team, for `team` or all."""

    team: str | None = None


@dataclass(frozen=True, slots=True)
class MyData:
    """What is stored about the caller, and how to export or delete it."""


@dataclass(frozen=True, slots=True)
class Forget:
    """A preview of deleting everything about the caller, with a confirm button."""


Request = (
    Me
    | Top
    | Badges
    | OptOut
    | OptIn
    | Help
    | Retire
    | Restore
    | TooLong
    | Status
    | Digest
    | Org
    | MyData
    | Forget
)

_SIMPLE: dict[str, Request] = {
    "": Me(),
    "me": Me(),
    "top": Top(),
    "badges": Badges(),
    "optout": OptOut(),
    "optin": OptIn(),
    "help": Help(),
    "status": Status(),
    "mydata": MyData(),
    "forget": Forget(),
}


def parse_command(text: str) -> Request:
    """Parse the text after `/aiusage`, as Slack sends it. Subcommands are case-insensitive;
    an announcement or note past `MAX_TEXT` is `TooLong`; anything else unknown, over-long or
    containing control characters is a request for help."""
    text = typed(text)
    if any(is_control(ch) for ch in text):
        return Help(unknown=text)
    stripped = text.strip()
    word, _, rest = stripped.partition(" ")
    word = word.lower()
    if word in ("retire", "restore"):
        body = rest.strip()
        # The rule the CLI keeps too; a control character was taken as unknown text above.
        if (refused := text_refused(body)) is not None and refused.length is not None:
            return TooLong(word, refused.length)
        return Retire(body) if word == "retire" else Restore(body)
    if len(text) > MAX_TEXT:
        return Help(unknown=text)
    if word == "digest" and rest.strip().lower() in ("on", "off"):
        return Digest(on=rest.strip().lower() == "on")
    if word == "org":
        return Org(" ".join(rest.split()) or None)
    if word in _SIMPLE and not rest.strip():
        return _SIMPLE[word]
    return Help(unknown=stripped)


def typed(text: str) -> str:
    """The text as the person typed it: Slack sends a command's `&`, `<` and `>` as `&amp;`,
    `&lt;` and `&gt;`, and every view escapes what it shows, so left as sent an announcement
    read `Q&amp;A` in every channel and a team named `R&D` could not be asked for."""
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
