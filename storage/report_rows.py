"""A vendor report's records as rollup rows, keyed by whom they name rather than by identity
id. Pure, so that Copilot's fetching process (`bot.connectors.copilot_child`) can build a
day's rows next to the parser, and the writer only puts the identity ids in front of them
(`storage.imports.replace_in`): in a backfill the writer is the critical path."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any

from storage.bounds import ABSENT, COST_DAY_CAP, DAY_CAP
from storage.figures import NAMES, REPORTED, figures_of, is_whole
from storage.privacy_records import IdentityKey
from storage.records import BadRow, ReportDay, UserRef

_CAPS = tuple(DAY_CAP if is_whole(name) else COST_DAY_CAP for name in NAMES)
# A row's tail (the columns after the identity id and day: tool, kind, origin, the figures,
# events) starts its figures here.
_TAIL_FIGURES = 3

# (tool, kind, origin, *figures, events): a rollup row without its identity id and day.
Tail = tuple[Any, ...]


def identity_key(user: UserRef) -> IdentityKey:
    """The identity a report's or an event's user is stored under."""
    if user.slack_user_id:
        return ("slack", user.slack_user_id)
    if user.email:
        return ("email", user.email.lower())
    assert user.vendor
    return user.vendor


def report_origin(source: str, integration: str | None, client: str | None) -> str:
    """The origin a report's figures are kept under, e.g. `import:kiro@acme:kiro_ide`."""
    origin = f"import:{source}" + (f"@{integration}" if integration else "")
    return origin + (f":{client}" if client else "")


@dataclass(frozen=True, slots=True)
class PreparedDays:
    """Whole days of a report as rollup rows: per day, each person's key (in the order the
    report first names them) with their rows' tails, in (tool, kind, origin) order; each
    key once, a part the report names twice already summed. A figure the report does not
    give is `storage.bounds.ABSENT` in a tail, not None: SQLite's driver binds None at
    several times an int's cost, and a backfill binds millions. `records` counts the
    records they came from; `source` and `integration` are the report's, as
    `report_origin` took them for the rows' origins."""

    days: dict[date, list[tuple[IdentityKey, list[Tail]]]]
    records: int
    source: str
    integration: str | None

    def keys(self) -> set[IdentityKey]:
        return {key for people in self.days.values() for key, _ in people}


def prepare(
    items: Iterable[ReportDay | BadRow],
    source: str,
    integration: str | None,
    whole_days: Collection[date],
    *,
    add_up: bool = False,
) -> tuple[PreparedDays, list[BadRow]] | None:
    """The records of whole days as rows, and the rows that could not be read; None if a
    record names a day outside `whole_days` (such a day is cleared person by person, which
    only `replace_in`'s own path does). A record of a (person, day, origin) named before
    replaces the earlier one, as `replace_in` keeps it; with `add_up`, they are summed."""
    bad: list[BadRow] = []
    people: dict[date, dict[IdentityKey, list[Tail]]] = {}
    origins: dict[str | None, str] = {}
    records = 0
    for item in items:
        if isinstance(item, BadRow):
            bad.append(item)
            continue
        if item.day not in whole_days:
            return None
        records += 1
        if (origin := origins.get(item.client)) is None:
            origin = origins[item.client] = report_origin(source, integration, item.client)
        if (day := people.get(item.day)) is None:
            day = people[item.day] = {}
        tool = item.tool
        # A record's parts are of distinct kinds (the parsers merge a kind named twice).
        tails = [(tool, part.kind, origin, *figures_of(part), 1) for part in item.figures]
        if len(tails) > 1:
            tails.sort(key=_kind)
        key = identity_key(item.user)
        seen = day.get(key)
        if seen is None:
            day[key] = tails
        elif add_up:
            day[key] = _merged(seen, tails)
        else:
            day[key] = _replaced(seen, tails, origin)
    prepared = {
        day: [(key, [_absent_marked(tail) for tail in tails]) for key, tails in found.items()]
        for day, found in people.items()
    }
    return PreparedDays(prepared, records, source, integration), bad


def _absent_marked(tail: Tail) -> Tail:
    """`tail` with ABSENT for each reported figure it does not have."""
    if None not in tail:
        return tail
    marked = list(tail)
    for i in _REPORTED_AT:
        if marked[i] is None:
            marked[i] = ABSENT
    return tuple(marked)


_REPORTED_AT = tuple(_TAIL_FIGURES + NAMES.index(name) for name in REPORTED)


def _merged(first: list[Tail], then: list[Tail]) -> list[Tail]:
    """A person the report names twice in a day: their parts summed per (tool, kind,
    origin), as `replace_in` sums them."""
    rows: dict[tuple[str, str, str], list[Any]] = {}
    for tail in first + then:
        part = (tail[0], tail[1], tail[2])
        if (acc := rows.get(part)) is None:
            rows[part] = list(tail)
        else:
            add_part(acc, tail[_TAIL_FIGURES:-1], _TAIL_FIGURES)
    return [tuple(rows[part]) for part in sorted(rows)]


def _replaced(first: list[Tail], then: list[Tail], origin: str) -> list[Tail]:
    """A person the report names twice in a day, in one origin: the later record's parts
    alone (none, if it reported nothing), beside the parts of the person's other origins."""
    kept = [tail for tail in first if tail[2] != origin]
    return sorted(kept + then, key=_part) if kept else then


_kind, _part = itemgetter(1), itemgetter(0, 1, 2)


def add_part(acc: list[Any], figures: tuple[Any, ...], start: int) -> None:
    """Add a second part of one rollup key (a report that names a person twice) to the first
    (a row whose figures begin at `start`), keeping None for what neither reported and holding
    each sum at the rollup's caps. A single part needs no capping: every door bounds an item
    far below them (`storage.bounds`)."""
    for i, (cap, value) in enumerate(zip(_CAPS, figures, strict=True), start=start):
        if value is None:
            continue
        total = value if acc[i] is None else acc[i] + value
        acc[i] = cap if total > cap else total
    acc[-1] += 1  # events: the parts summed
