"""The group-size rule as a pure function, under attack: small teams, teams that differ by
one person, a total that differs from a team by one person, and an "other" of one."""

from __future__ import annotations

from jobs.group_size import private_groups


def people(*ids: int) -> frozenset[int]:
    return frozenset(ids)


EVERYONE = frozenset(range(1, 31))


def test_a_team_of_four_folds_into_other():
    # People 26..30 are in no team: other is them and the four.
    grouping = private_groups(
        {"four": people(1, 2, 3, 4), "big": frozenset(range(5, 26))}, EVERYONE, 5
    )
    assert list(grouping.shown) == ["big"]
    assert grouping.other == people(1, 2, 3, 4, 26, 27, 28, 29, 30)
    assert grouping.folded == ("four",)


def test_the_team_of_four_cannot_be_had_as_the_complement_of_other():
    # Were "big" shown beside an other of only the four, total minus big would be them.
    grouping = private_groups(
        {"four": people(1, 2, 3, 4), "big": frozenset(range(5, 31))}, EVERYONE, 5
    )
    assert grouping.shown == {} and grouping.other == EVERYONE


def test_an_other_of_fewer_than_the_minimum_pulls_a_team_in_with_it():
    # The four no team covers would be other on their own: the total minus the team.
    grouping = private_groups({"big": frozenset(range(5, 31))}, EVERYONE, 5)
    assert grouping.shown == {}
    assert grouping.other == EVERYONE and grouping.total_shown


def test_two_overlapping_teams_that_differ_by_one_person_are_not_both_shown():
    a = frozenset(range(1, 11))  # ten people
    b = frozenset(range(1, 10))  # the same nine, one fewer
    c = frozenset(range(11, 31))
    grouping = private_groups({"a": a, "b": b, "c": c}, EVERYONE, 5)
    assert not {"a", "b"} <= set(grouping.shown)
    shown = list(grouping.shown.values())
    for x in shown:
        for y in shown:
            assert len(x - y) == 0 or len(x - y) >= 5


def test_a_team_that_is_everyone_but_two_is_not_shown_beside_the_total():
    grouping = private_groups({"nearly": frozenset(range(1, 29))}, EVERYONE, 5)
    assert "nearly" not in grouping.shown


def test_fewer_people_than_the_minimum_shows_nothing_at_all():
    grouping = private_groups({"t": people(1, 2, 3, 4)}, people(1, 2, 3, 4), 5)
    assert grouping.refused and grouping.shown == {} and not grouping.other


def test_only_people_in_the_population_count():
    # A team of ten with three active this week (a one-week window) is three people.
    team = frozenset(range(1, 11))
    active = people(1, 2, 3) | frozenset(range(11, 31))
    grouping = private_groups({"t": team}, active, 5)
    assert "t" not in grouping.shown


def test_tools_fold_on_size_and_against_the_wider_view():
    population = frozenset(range(1, 11))
    tools = {"a": population, "b": people(1, 2), "c": people(3, 4, 5)}
    grouping = private_groups(tools, population, 5, other_mode="folded")
    assert list(grouping.shown) == ["a"] and grouping.other == people(1, 2, 3, 4, 5)
    # Two people's use of "b" alone would be an other of two: "a" folds in with it.
    grouping = private_groups(
        {"a": population, "b": people(1, 2)}, population, 5, other_mode="folded"
    )
    assert grouping.shown == {} and grouping.other == population
    grouping = private_groups(tools, population, 2, other_mode="folded")
    assert set(grouping.shown) == {"a", "b", "c"}
    # The organisation's use of "a" is 11 people; this team's is 10: 1 apart.
    wider = {"a": frozenset(range(1, 12))}
    grouping = private_groups({"a": population}, population, 5, other_mode="folded", against=wider)
    assert grouping.shown == {} and grouping.other == frozenset()


def test_the_minimum_of_one_shows_everything():
    grouping = private_groups({"solo": people(1)}, people(1, 2), 1)
    assert grouping.total_shown and "solo" in grouping.shown
