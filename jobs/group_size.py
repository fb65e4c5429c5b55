"""The group-size rule: the one function every aggregate view and export goes through, so
no figure ever describes fewer than `AIUSAGE_MIN_GROUP_SIZE` people. Pure.

A group is a key (a team, a tool) and the set of people whose usage its figures sum. Groups
smaller than the minimum fold into "other". Checking sizes alone is not enough: two groups
shown side by side can be subtracted. So the rule also folds a group when

- it differs from another shown group (or from the whole population shown as the total) by
  between 1 and min_size - 1 people, in either direction: team A minus team B would be one
  person's figures;
- "other" would itself be smaller than the minimum: the total minus every shown group would
  be a few people's figures;
- it differs from the same group in a wider view the caller names (`against`: a team's use
  of a tool against the organisation's use of it) by between 1 and min_size - 1 people.

Tools split usage rather than people (the total minus one tool is other tools' usage, not
some people's), so for them (`other_mode="folded"`) only sizes and `against` are checked.

Folding always takes the smallest offending group, and repeats until nothing offends. When
the whole population is smaller than the minimum, nothing is shown at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)
People = frozenset[int]
# "rest": other holds everyone in the population no shown group covers (teams: a person
# counts in each of their teams, and people in no shown team are the rest).
# "folded": other holds everyone in a folded group (tools: other is the folded tools' usage).
OtherMode = Literal["rest", "folded"]


@dataclass(frozen=True, slots=True)
class Grouping(Generic[K]):
    """What may be shown: `shown` groups, `other` (empty: no such row), `folded` keys, and
    whether the population as a whole may be shown (`total_shown`)."""

    shown: dict[K, People]
    other: People
    folded: tuple[K, ...]
    total_shown: bool

    @property
    def refused(self) -> bool:
        return not self.total_shown


def allowed_size(n: int, min_size: int) -> bool:
    """Whether a count of people may stand alone: nobody, or at least the minimum."""
    return n == 0 or n >= min_size


def private_groups(
    groups: Mapping[K, People],
    population: People,
    min_size: int,
    *,
    other_mode: OtherMode = "rest",
    against: Mapping[K, People] | None = None,
    fold: Collection[K] = (),
) -> Grouping[K]:
    """Which of `groups` may be shown next to each other and the `population` total, under
    the minimum group size; the rest fold into `other`, as do the keys in `fold` (groups a
    narrower window would fold). Every aggregate path calls this."""
    min_size = max(1, min_size)
    if len(population) < min_size:
        return Grouping({}, frozenset(), tuple(groups), total_shown=False)
    # Only people in the population count; a group is judged by who it actually sums.
    within = {key: people & population for key, people in groups.items()}
    shown = {
        key: people for key, people in within.items() if len(people) >= min_size and key not in fold
    }
    folded = [key for key in within if key not in shown]
    while True:
        other = _other(within, shown, folded, population, other_mode)
        # Other, too, must not differ from the wider view's folded groups by a few people.
        wider_other = frozenset().union(*((against or {}).get(key, other) for key in folded))
        offender = _offender(shown, other, population, min_size, other_mode, against or {})
        if other and not allowed_size(len(wider_other - other), min_size) and offender is None:
            if not shown:  # nothing left to fold: the breakdown is not shown at all
                return Grouping({}, frozenset(), tuple(folded), total_shown=True)
            offender = min(shown, key=lambda key: (len(shown[key]), str(key)))
        if offender is None:
            return Grouping(shown, other, tuple(folded), total_shown=True)
        del shown[offender]
        folded.append(offender)


def _other(
    within: Mapping[K, People],
    shown: Mapping[K, People],
    folded: list[K],
    population: People,
    mode: OtherMode,
) -> People:
    if mode == "folded":
        return frozenset().union(*(within[key] for key in folded))
    return population.difference(*shown.values())


def _offender(
    shown: Mapping[K, People],
    other: People,
    population: People,
    min_size: int,
    mode: OtherMode,
    against: Mapping[K, People],
) -> K | None:
    """The shown group to fold next, or None when the grouping is safe."""
    if not shown:
        return None
    smallest = sorted(shown, key=lambda key: (len(shown[key]), str(key)))
    if not allowed_size(len(other), min_size):
        return smallest[0]  # folding more makes other bigger
    bad: set[K] = {
        key
        for key, people in shown.items()
        if key in against and not allowed_size(len(against[key] - people), min_size)
    }
    if mode == "folded":
        return next((key for key in smallest if key in bad), None)
    for key, people in shown.items():
        # The total minus this group would be the few people outside it.
        if not allowed_size(len(population) - len(people), min_size):
            bad.add(key)
    for a, b in _overlapping_pairs(shown):
        if not (
            allowed_size(len(shown[a] - shown[b]), min_size)
            and allowed_size(len(shown[b] - shown[a]), min_size)
        ):
            # The smaller of the two goes; the other may then be fine.
            bad.add(min((a, b), key=lambda key: (len(shown[key]), str(key))))
    return next((key for key in smallest if key in bad), None)


def _overlapping_pairs(shown: Mapping[K, People]) -> set[tuple[K, K]]:
    """Pairs of shown groups with someone in common; disjoint groups cannot be subtracted
    to anything smaller than themselves. Found through who is in what, not all pairs."""
    member_of: dict[int, list[K]] = defaultdict(list)
    for key, people in shown.items():
        for person in people:
            member_of[person].append(key)
    order = {key: i for i, key in enumerate(shown)}
    pairs: set[tuple[K, K]] = set()
    for keys in member_of.values():
        if len(keys) < 2:
            continue
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                pairs.add((a, b) if order[a] < order[b] else (b, a))
    return pairs
