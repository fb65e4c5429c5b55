"""Award rules over hand-made weeks: each badge, thresholds, ties, limits, opt-outs, config."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.award_measures import work
from jobs.award_rules import (
    AwardRules,
    Candidate,
    build_post,
    decide_awards,
    load_rules,
    rules_from_mapping,
)
from storage.records import Award, PersonPeriod, Totals


def person(
    pid: int,
    *,
    days: int = 1,
    shown: int | None = None,
    accepted: int | None = None,
    lines: int | None = None,
    tokens: int = 1000,
    tools: tuple[str, ...] = ("kiro",),
    kinds: tuple[str, ...] = ("chat",),
    opted_out: bool = False,
    slack: str | None = "",
    previous: tuple[int, ...] = (),
    commits: int | None = None,
    pulls: int | None = None,
    requests: int = 30,  # a week of real use: every badge asks for 20 (`min_work`)
) -> Candidate:
    totals = Totals(
        requests=requests,
        input_tokens=tokens,
        output_tokens=0,
        suggestions_shown=shown,
        suggestions_accepted=accepted,
        lines_accepted=lines,
        commits=commits,
        pull_requests=pulls,
    )
    period = PersonPeriod(
        person_id=pid,
        slack_user_id=f"U{pid:03d}" if slack == "" else slack,
        display_name=None,
        opted_out=opted_out,
        totals=totals,
        active_days=days,
        tools=frozenset(tools),
        kinds=frozenset(kinds),
    )
    return Candidate(period, previous)


def only(key: str, **changes) -> AwardRules:
    """The default rules with every badge but `key` switched off."""
    off = {c.key: {"enabled": False} for c in AwardRules().categories if c.key != key}
    off[key] = changes
    return rules_from_mapping({"categories": off})


def test_steady_goes_to_the_most_active_days_not_the_most_tokens():
    heavy = person(1, days=3, tokens=5_000_000)
    steady = person(2, days=5, tokens=2_000, shown=100, accepted=41)
    [winner] = decide_awards([heavy, steady], only("steady"))
    assert (winner.category, winner.slack_user_id) == ("steady", "U002")
    assert winner.reason == "5 active days, 41% acceptance"


def test_steady_needs_its_minimum_days():
    assert decide_awards([person(1, days=2)], only("steady")) == []


def test_acceptance_needs_enough_suggestions_shown():
    lucky = person(1, days=3, shown=10, accepted=10)
    solid = person(2, days=3, shown=200, accepted=90)
    [winner] = decide_awards([lucky, solid], only("acceptance"))
    assert winner.slack_user_id == "U002"
    assert winner.reason == "45% acceptance of 200 suggestions, 3 active days"


def test_acceptance_is_a_rate_over_three_days_not_two_perfect_events():
    two_perfect_days = person(1, days=2, shown=50, accepted=50)
    assert decide_awards([two_perfect_days], only("acceptance")) == []
    three_days = person(2, days=3, shown=50, accepted=20)
    [winner] = decide_awards([two_perfect_days, three_days], only("acceptance"))
    assert winner.reason == "40% acceptance of 50 suggestions, 3 active days"


def test_acceptance_below_its_floor_wins_nothing():
    assert decide_awards([person(1, days=3, shown=200, accepted=20)], only("acceptance")) == []


def test_efficiency_is_accepted_work_per_thousand_tokens_with_minimum_volume():
    tiny = person(1, days=2, lines=5, tokens=100)  # 50 per 1k but below both minimums
    lean = person(2, days=2, lines=300, tokens=100_000)  # 3.0 per 1k
    bulky = person(3, days=2, lines=900, tokens=900_000)  # 1.0 per 1k, more in absolute terms
    [winner] = decide_awards([tiny, lean, bulky], only("efficiency"))
    assert winner.slack_user_id == "U002"
    assert winner.reason == "3.0 accepted lines per 1,000 tokens (300 in 100,000 tokens)"


def test_efficiency_past_a_line_for_every_ten_tokens_is_not_believed():
    claimed = person(1, days=2, lines=19_000, tokens=20_000)  # 950 per 1k, under the flag
    plausible = person(2, days=2, lines=2_000, tokens=20_000)  # 100 per 1k: the most believed
    just_past = person(3, days=2, lines=2_001, tokens=20_000)
    ordinary = person(4, days=2, lines=120, tokens=20_000)  # 6 per 1k
    [winner] = decide_awards([claimed, just_past, ordinary, plausible], only("efficiency"))
    assert (winner.slack_user_id, winner.value) == ("U002", 100.0)
    [winner] = decide_awards([claimed, just_past, ordinary], only("efficiency"))
    assert winner.slack_user_id == "U004"
    assert only("efficiency").category("efficiency").maximum == 100.0
    looser = only("efficiency", maximum=1000)
    assert decide_awards([claimed], looser)[0].slack_user_id == "U001"
    with pytest.raises(ValueError, match="maximum has the wrong type"):
        rules_from_mapping({"categories": {"efficiency": {"maximum": "100"}}})


def test_efficiency_falls_back_to_accepted_suggestions_without_lines():
    [winner] = decide_awards(
        [person(1, days=2, shown=100, accepted=40, tokens=20_000)], only("efficiency")
    )
    assert winner.reason == "2.0 accepted per 1,000 tokens (40 in 20,000 tokens)"


def test_breadth_counts_distinct_tools_and_kinds():
    narrow = person(1, days=5, tools=("kiro",), kinds=("chat", "agent"))
    wide = person(2, days=2, tools=("kiro", "copilot"), kinds=("chat", "agent", "completion"))
    # A tool counts only when someone else used it that week: here a colleague's one day.
    peer = person(3, days=1, requests=2, tools=("copilot",))
    [winner] = decide_awards([narrow, wide, peer], only("breadth"))
    assert winner.slack_user_id == "U002"
    assert winner.reason == "2 tools colleagues use too, 3 kinds of work"


def test_improvement_is_against_the_persons_own_previous_weeks():
    always_busy = person(1, days=5, previous=(5, 5, 5, 5))
    growing = person(2, days=4, previous=(2, 1, 0, 1))
    newcomer = person(3, days=5, previous=(0, 0, 0, 0))  # no history to improve on
    [winner] = decide_awards([always_busy, growing, newcomer], only("improvement"))
    assert winner.slack_user_id == "U002"
    assert winner.reason == "4 active days, up from 1.0 a week"


def test_shipped_is_work_shipped_with_ai_per_active_day():
    busy = person(1, days=5, commits=10, pulls=0, tokens=50_000, previous=(3,))  # 2.0 a day
    focused = person(2, days=2, commits=4, pulls=2, tokens=40_000, previous=(1,))  # 3.0 a day
    [winner] = decide_awards([busy, focused], only("shipped"))
    assert (winner.category, winner.slack_user_id, winner.value) == ("shipped", "U002", 3.0)
    assert winner.reason == "4 commits and 2 pull requests made with AI, 2 active days"


def test_shipped_keeps_the_minimum_volume_and_baseline_rules():
    guarded = {
        "one lucky commit": person(1, days=2, commits=2, tokens=50_000, previous=(2,)),
        "hardly any AI use": person(2, days=2, commits=9, tokens=500, previous=(2,)),
        "one day only": person(3, days=1, commits=9, tokens=50_000, previous=(2,)),
        "a first week": person(4, days=3, commits=9, tokens=50_000, previous=(0, 0, 0, 0)),
        "nothing reported": person(5, days=3, tokens=50_000, previous=(2,)),
    }
    for why, candidate in guarded.items():
        assert decide_awards([candidate], only("shipped")) == [], why
    ok = person(6, days=2, commits=3, pulls=0, tokens=20_000, previous=(0, 1))
    assert [w.slack_user_id for w in decide_awards([ok], only("shipped"))] == ["U006"]


def test_shipped_work_of_a_flagged_or_opted_out_week_wins_nothing():
    flagged = person(1, days=3, commits=50, pulls=10, tokens=90_000, previous=(2,))
    away = person(2, days=3, commits=50, tokens=90_000, previous=(2,), opted_out=True)
    fair = person(3, days=3, commits=3, tokens=90_000, previous=(2,))
    [winner] = decide_awards([flagged, away, fair], only("shipped"), flagged={1})
    assert winner.slack_user_id == "U003"


def test_shipped_thresholds_come_from_the_rules_file():
    rules = only("shipped", min_shipped=20, min_previous_weeks=0)
    assert decide_awards([person(1, days=2, commits=19, tokens=50_000)], rules) == []
    assert decide_awards([person(1, days=2, commits=20, tokens=50_000)], rules) != []
    with pytest.raises(ValueError, match="min_shipped has the wrong type"):
        rules_from_mapping({"categories": {"shipped": {"min_shipped": "3"}}})


def test_ties_go_to_more_days_then_fewer_tokens_then_user_id():
    rules = only("breadth")
    a = person(1, days=3, tools=("a", "b"), kinds=("chat", "agent"), tokens=500)
    b = person(2, days=4, tools=("a", "b"), kinds=("chat", "agent"), tokens=900)
    c = person(3, days=4, tools=("a", "b"), kinds=("chat", "agent"), tokens=100)
    d = person(4, days=4, tools=("a", "b"), kinds=("chat", "agent"), tokens=100)
    for order in ([a, b, c, d], [d, c, b, a], [b, d, a, c]):
        assert decide_awards(order, rules)[0].slack_user_id == "U003"


def test_a_week_without_tokens_is_not_fewer_tokens_in_a_tie():
    # Seven one-request events with no tokens won Steady hand from a real seven-day week
    # through "fewer tokens"; a week reporting none comes after every week that reports some.
    made_up = person(1, days=7, requests=20, tokens=0)
    real = person(2, days=7, requests=42, tokens=62_000)
    lean = person(3, days=7, requests=42, tokens=30_000)
    for order in ([made_up, real], [real, made_up]):
        assert decide_awards(order, only("steady"))[0].slack_user_id == "U002"
    assert decide_awards([made_up, real, lean], only("steady"))[0].slack_user_id == "U003"
    # Among weeks that all report none, the Slack ID decides, as before.
    other = person(4, days=7, requests=20, tokens=0)
    assert decide_awards([other, made_up], only("steady"))[0].slack_user_id == "U001"


def test_acceptance_past_belief_wins_no_sharp_eye():
    # Real rates are 20-40%; over 50+ suggestions and three days nobody accepts nearly all.
    perfect = person(1, days=3, shown=51, accepted=51)
    just_past = person(2, days=3, shown=100, accepted=91)
    highest_believed = person(3, days=3, shown=100, accepted=90)
    real = person(4, days=5, shown=200, accepted=120)
    [winner] = decide_awards([perfect, just_past, highest_believed, real], only("acceptance"))
    assert winner.slack_user_id == "U003"
    assert decide_awards([perfect, just_past, real], only("acceptance"))[0].slack_user_id == "U004"
    assert AwardRules().category("acceptance").maximum == 0.9


def test_the_least_work_is_the_least_any_enabled_badge_asks():
    assert AwardRules().least_work == 20
    rules = rules_from_mapping(
        {"categories": {"steady": {"min_work": 5}, "breadth": {"min_work": 1, "enabled": False}}}
    )
    assert rules.least_work == 5


def test_nobody_wins_more_than_the_limit():
    star = person(1, days=5, shown=200, accepted=100, lines=500, tokens=50_000)
    runner = person(2, days=4, shown=200, accepted=60, lines=100, tokens=50_000)
    winners = decide_awards([star, runner], AwardRules())
    assert [(w.category, w.slack_user_id) for w in winners] == [
        ("steady", "U001"),
        ("acceptance", "U002"),
    ]
    two_each = rules_from_mapping({"max_badges_per_person": 2})
    winners = decide_awards([star, runner], two_each)
    assert [w.slack_user_id for w in winners] == ["U001", "U001", "U002"]


def test_opted_out_flagged_and_unlinked_people_win_nothing():
    best = person(1, days=7, opted_out=True)
    flagged = person(2, days=6)
    unlinked = person(3, days=6, slack=None)
    fair = person(4, days=3)
    [winner] = decide_awards([best, flagged, unlinked, fair], only("steady"), flagged={2})
    assert winner.slack_user_id == "U004"


def test_operators_can_retitle_rethreshold_and_switch_off(tmp_path):
    path = tmp_path / "awards.yml"
    path.write_text(
        "max_badges_per_person: 2\n"
        "categories:\n"
        "  steady: {emoji: ':sunrise:', title: Early bird, minimum: 5}\n"
        "  breadth: {enabled: false}\n"
    )
    rules = load_rules(path)
    steady = rules.category("steady")
    assert (steady.emoji, steady.title, steady.minimum) == (":sunrise:", "Early bird", 5)
    assert not rules.category("breadth").enabled
    assert rules.max_badges_per_person == 2
    assert decide_awards([person(1, days=4)], rules) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"categories": {"volume": {}}}, "unknown award category 'volume'"),
        ({"categories": {"steady": {"colour": "red"}}}, "unknown field 'colour'"),
        ({"categories": {"steady": {"minimum": "lots"}}}, "minimum has the wrong type"),
        ({"max_badges_per_person": 0}, "max_badges_per_person"),
        ({"badges": {}}, "unknown award rules key 'badges'"),
        ({"categories": {"steady": None}}, "award category 'steady': expected a mapping"),
        ({"categories": {"steady": {"min_active_days": True}}}, "min_active_days has the wrong"),
        ({"categories": {"steady": {"min_tokens": "10"}}}, "min_tokens has the wrong type"),
        ({"history_weeks": 13}, "history_weeks must be a whole number from 1 to 12"),
        ({"rewards_line": ["<!channel>"]}, "award rules: rewards_line"),
    ],
)
def test_bad_configuration_is_refused_by_name(data, message):
    with pytest.raises(ValueError, match=message):
        rules_from_mapping(data)


def test_the_post_lists_badges_in_category_order():
    created = datetime(2026, 11, 16, tzinfo=UTC)
    week = date(2026, 11, 9)
    awards = [
        Award(2, "U002", week, "breadth", "2 tools, 3 kinds of work", created),
        Award(1, "U001", week, "steady", "5 active days", created),
    ]
    post = build_post("2026-W46", week, date(2026, 11, 15), awards, AwardRules())
    assert [(b.title, b.slack_user_id) for b in post.badges] == [
        ("Steady hand", "U001"),
        ("Explorer", "U002"),
    ]


# -- a week of real use ---------------------------------------------------------------------


def test_near_empty_weeks_win_nothing_however_many_days_tools_or_rises():
    # What a script sends cheapest: one bare request an event, no tokens, nothing shown.
    cheap = {
        "steady": person(1, days=7, requests=7, tokens=0),
        "breadth": person(2, days=2, requests=4, tokens=0, tools=("a", "b"), kinds=("x", "y")),
        "improvement": person(3, days=5, requests=5, tokens=0, previous=(1, 1, 0, 1)),
    }
    # A colleague on one day who uses the same tools, so Explorer counts them (one day wins
    # no badge here).
    colleague = person(9, days=1, requests=1, tokens=0, tools=("a", "b"))
    for key, candidate in cheap.items():
        assert decide_awards([candidate, colleague], only(key)) == [], key
        real = replace(candidate, period=replace(candidate.period, totals=Totals(requests=20)))
        assert [w.category for w in decide_awards([real, colleague], only(key))] == [key]


def test_work_is_requests_suggestions_shown_and_thousands_of_tokens():
    week = Totals(requests=3, suggestions_shown=10, input_tokens=5_600, output_tokens=400)
    assert work(week) == 19
    assert work(Totals(requests=0, suggestions_shown=None, output_tokens=999)) == 0
    inline = person(1, days=5, requests=0, tokens=0, shown=20, accepted=5)  # Copilot's report
    telemetry = person(2, days=5, requests=0, tokens=20_000)  # OTLP metrics: no requests
    for candidate in (inline, telemetry):
        assert decide_awards([candidate], only("steady")) != []


def test_the_floor_comes_from_the_rules_file():
    rules = only("steady", min_work=100)
    assert decide_awards([person(1, days=5, requests=99, tokens=999)], rules) == []
    assert decide_awards([person(1, days=5, requests=99, tokens=1000)], rules) != []
    with pytest.raises(ValueError, match="min_work has the wrong type"):
        rules_from_mapping({"categories": {"steady": {"min_work": "20"}}})


counts = st.integers(0, 40)


@st.composite
def candidates(draw, pid: int) -> Candidate:
    shown = draw(st.none() | st.integers(0, 80))
    accepted = None if shown is None else draw(st.integers(0, shown))
    return person(
        pid,
        days=draw(st.integers(0, 7)),
        requests=draw(counts),
        tokens=draw(st.sampled_from([0, 900, 5_000, 20_000, 60_000])),
        shown=shown,
        accepted=accepted,
        lines=draw(st.none() | st.integers(0, 400) | st.integers(1_000, 30_000)),
        tools=tuple(draw(st.sets(st.sampled_from("abcd"), min_size=1))),
        kinds=tuple(draw(st.sets(st.sampled_from(["chat", "agent", "other"]), min_size=1))),
        previous=tuple(draw(st.lists(st.integers(0, 7), max_size=4))),
        commits=draw(st.none() | counts),
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(*[candidates(pid) for pid in range(n)])))
def test_no_winner_has_less_than_a_week_of_real_use(people):
    rules = AwardRules()
    for winner in decide_awards(people, rules):
        [candidate] = [c for c in people if c.period.person_id == winner.person_id]
        category = rules.category(winner.category)
        assert work(candidate.period.totals) >= category.min_work == 20
        assert candidate.period.active_days >= category.min_active_days
        assert category.maximum is None or winner.value <= category.maximum
