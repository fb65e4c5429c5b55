"""The pure rules behind `me` and `top`: score, ranking, week comparison, sparkline."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.scoring import (
    Board,
    compare_weeks,
    leave_out,
    past_belief,
    rank,
    sparkline,
    standings,
    too_little_use,
)
from jobs.weeks import Week
from storage.figures import WORK
from storage.records import DailyUsage, RankInput, Totals


def person(pid, days, accepted=None, shown=None, slack=None):
    return RankInput(pid, slack or f"U{pid}", days, accepted, shown)


def test_rank_orders_by_active_days_then_accepted_then_rate():
    ranked = rank(
        [
            person(1, 2, accepted=50, shown=60),
            person(2, 5),
            person(3, 5, accepted=3, shown=30),
            person(4, 5, accepted=3, shown=4),
            person(5, 0, accepted=99, shown=99),  # no active day: not on the board
        ]
    )
    assert [(r.place, r.person_id) for r in ranked] == [(1, 4), (2, 3), (3, 2), (4, 1)]
    assert ranked[0].acceptance_rate == 0.75
    assert ranked[2].acceptance_rate is None


def test_only_weeks_with_the_badges_floor_of_use_are_ranked():
    # The floor is `award_measures.work`: requests, suggestions shown, thousands of tokens.
    enough = RankInput(1, "U1", 3, 36, 90, requests=24, tokens=10_200)  # 124
    thin = RankInput(2, "U2", 3, 15, 15, requests=3, tokens=999)  # 18
    telemetry = RankInput(3, "U3", 2, None, None, requests=0, tokens=20_000)  # 20
    empty = RankInput(4, "U4", 0, None, None)
    ranked = rank([enough, thin, telemetry, empty], least_work=20)
    assert [r.person_id for r in ranked] == [1, 3]
    assert too_little_use([enough, thin, telemetry, empty], 20) == {2, 4}
    assert [r.person_id for r in rank([enough, thin, telemetry], least_work=18)] == [1, 2, 3]


def test_acceptance_past_the_badges_belief_is_doubted():
    people = [
        RankInput(1, "U1", 3, 3000, 3000, requests=3),  # 1,000 of 1,000, three times
        RankInput(2, "U2", 3, 91, 100),  # past 90%
        RankInput(3, "U3", 3, 90, 100),  # at it: believed
        RankInput(4, "U4", 1, 10, 10),  # too few shown to judge
        RankInput(5, "U5", 3, None, None),
    ]
    assert past_belief(people, 0.9, 50) == {1, 2}
    assert past_belief(people, None, 50) == frozenset()


def test_equal_scores_share_a_place():
    ranked = rank([person(1, 3), person(2, 3), person(3, 1)])
    assert [r.place for r in ranked] == [1, 1, 3]


def test_leaving_people_out_recounts_places():
    ranked = rank([person(1, 5), person(2, 4), person(3, 4), person(4, 1)])
    assert [(r.place, r.person_id) for r in leave_out(ranked, {1, 3})] == [(1, 2), (2, 4)]
    assert [r.person_id for r in leave_out(rank([person(1, 5), person(2, 4)]), {1})] == [2]


def test_standings_show_the_top_and_the_viewers_place_without_the_unranked():
    ranked = rank([person(i, 10 - i) for i in range(1, 9)])
    board = standings(ranked, {2, 5}, person_id=7, size=3)
    assert [(r.place, r.person_id) for r in board.top] == [(1, 1), (2, 3), (3, 4)]
    assert (board.mine.place, board.mine.person_id, board.count) == (5, 7, 6)
    assert standings(ranked, {7}, person_id=7).mine is None


def test_sparkline_scales_to_the_largest_and_shows_gaps():
    assert sparkline([0, 1, 2, 4, 8]) == "▁▂▃▅█"
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([]) == ""


def row(day, tool="kiro", requests=1, **fields):
    return DailyUsage(1, day, tool, "chat", Totals(requests=requests, events=1, **fields))


def test_compare_weeks_matches_the_same_weekdays_of_last_week():
    week = Week(date(2026, 11, 16))
    daily = [
        row(date(2026, 11, 16), requests=5, suggestions_shown=4, suggestions_accepted=1),
        row(date(2026, 11, 17), tool="copilot", requests=2),
        row(date(2026, 11, 10), requests=3),
        row(date(2026, 11, 14), requests=10),  # after Tuesday last week: full week only
    ]
    c = compare_weeks(daily, week, today=date(2026, 11, 17))
    assert (c.this_week.totals.requests, c.this_week.active_days) == (7, 2)
    assert (c.last_week_same_days.totals.requests, c.last_week_same_days.active_days) == (3, 1)
    assert c.last_week.totals.requests == 13
    assert c.this_week.acceptance_rate == 0.25
    assert c.last_week.acceptance_rate is None
    assert [(t.tool, t.this_week.requests, t.last_week.requests) for t in c.tools] == [
        ("kiro", 5, 13),
        ("copilot", 2, 0),
    ]
    assert [w.label for w, _ in c.trend][-2:] == ["2026-W46", "2026-W47"]
    assert [n for _, n in c.trend][-2:] == [13, 7]


def test_board_standings_match_walking_everyone():
    rng = random.Random(6)
    for _ in range(300):
        people = [
            RankInput(n, f"U{n:03d}", rng.randint(0, 3), rng.choice([None, rng.randint(0, 3)]), 3)
            for n in range(rng.randint(0, 25))
        ]
        ranked = rank(people)
        board = Board.of(ranked)
        unranked = set(rng.sample(range(30), rng.randint(0, 10)))
        viewer, size = rng.randrange(30), rng.randint(1, 12)
        assert board.standings(unranked, viewer, size) == standings(ranked, unranked, viewer, size)


def test_a_day_of_empty_events_is_not_an_active_day():
    # A script's one event a day: no request, no token, a claimed accepted line and commit.
    week = Week(date(2026, 11, 9))
    empty = {"requests": 0, "lines_accepted": 5, "commits": 1, "cost_usd": 0.0}
    daily = [row(week.start + timedelta(days=n), **empty) for n in range(7)]
    daily.append(row(week.start, requests=0, suggestions_shown=3))  # inline: shown, no request
    daily.append(row(week.start + timedelta(days=1), requests=0, output_tokens=40))  # OTLP
    c = compare_weeks(daily, week, today=week.end)
    assert c.this_week.active_days == 2
    assert c.this_week.totals.lines_accepted == 35  # still counted, just not a day's work


figure = st.one_of(st.just(0), st.integers(1, 10**6))
reported = st.one_of(st.none(), figure)


@st.composite
def figures(draw):
    return Totals(
        requests=draw(figure),
        input_tokens=draw(figure),
        output_tokens=draw(figure),
        suggestions_shown=draw(reported),
        lines_accepted=draw(reported),
        commits=draw(reported),
        events=draw(st.integers(0, 3)),
    )


@settings(max_examples=300, deadline=None)
@given(days=st.lists(st.tuples(st.integers(0, 6), figures()), max_size=20))
def test_active_days_are_the_days_with_a_request_tokens_or_a_suggestion_shown(days):
    week = Week(date(2026, 11, 9))
    daily = [
        DailyUsage(1, week.start + timedelta(days=n), "kiro", "chat", totals) for n, totals in days
    ]
    worked = {n for n, t in days if any(getattr(t, name) for name in WORK)}
    assert {name for name in WORK} == {
        "requests",
        "input_tokens",
        "output_tokens",
        "suggestions_shown",
    }
    assert compare_weeks(daily, week, today=week.end).this_week.active_days == len(worked)
    for _, totals in days:  # events, lines or commits alone never make a day's work
        assert totals.does_work() == bool(
            totals.requests or totals.tokens or (totals.suggestions_shown or 0)
        )
