from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from assessments.progress import heatmap, streaks

TODAY = date(2026, 3, 18)  # a Wednesday


def days_before(*offsets: int) -> list[date]:
    return [TODAY - timedelta(days=n) for n in offsets]


def test_no_activity_is_no_streak():
    assert streaks([], TODAY) == (0, 0)


def test_a_streak_that_includes_today():
    assert streaks(days_before(0, 1, 2), TODAY) == (3, 3)


def test_yesterday_keeps_the_streak_alive():
    assert streaks(days_before(1, 2, 3, 4), TODAY) == (4, 4)


def test_a_gap_of_two_days_ends_the_current_streak_but_not_the_longest():
    assert streaks(days_before(2, 3, 4, 10, 11), TODAY) == (0, 3)


def test_the_longest_streak_can_be_in_the_past():
    assert streaks(days_before(0, 20, 21, 22, 23, 24), TODAY) == (1, 5)


def test_the_heatmap_has_53_week_columns_ending_today():
    columns = heatmap(Counter(), TODAY)

    assert len(columns) == 53
    assert all(len(column) == 7 for column in columns[:-1])
    assert columns[-1][-1].day == TODAY
    assert len(columns[-1]) == TODAY.weekday() + 1
    assert columns[0][0].day.weekday() == 0  # weeks start on Monday


def test_heatmap_levels_are_relative_to_the_busiest_day():
    counts = Counter({TODAY: 8, TODAY - timedelta(days=1): 1, TODAY - timedelta(days=2): 4})

    cells = {cell.day: cell for column in heatmap(counts, TODAY) for cell in column}

    assert cells[TODAY].level == 4
    assert cells[TODAY - timedelta(days=1)].level == 1
    assert cells[TODAY - timedelta(days=2)].level == 2
    assert cells[TODAY - timedelta(days=3)].level == 0
    assert cells[TODAY].count == 8


def test_days_outside_the_window_do_not_set_the_scale():
    counts = Counter({TODAY - timedelta(days=800): 100, TODAY: 2})

    assert heatmap(counts, TODAY)[-1][-1].level == 4
