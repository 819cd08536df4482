"""The local lab's capacity check: busiest window and the warning threshold."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import pytest

from helpers.capacity import (
    LOCAL_CAPACITY_EVENTS_PER_10S,
    CapacityWarning,
    busiest_window,
    check_local_capacity,
)

START = datetime(2026, 8, 28, 15, 0, tzinfo=UTC)


def _due_in_one_window(count: int) -> list[datetime]:
    """Spread ``count`` due dates over the ten whole seconds from START."""
    return [START + timedelta(seconds=i % 10) for i in range(count)]


def test_busiest_window_empty_input():
    assert busiest_window([]) == (0, None)


def test_busiest_window_counts_half_open_window():
    due = [START, START + timedelta(seconds=9.999), START + timedelta(seconds=10)]

    count, start = busiest_window(due)

    assert count == 2
    assert start == START


def test_busiest_window_finds_later_cluster():
    sparse = [START + timedelta(seconds=20 * i) for i in range(5)]
    cluster_start = START + timedelta(minutes=10)
    cluster = [cluster_start + timedelta(seconds=i % 3) for i in range(7)]

    count, start = busiest_window(sparse + cluster)

    assert count == 7
    assert start == cluster_start


def test_busiest_window_accepts_rfc3339_strings():
    due = ["2026-08-28T15:00:00Z", "2026-08-28T15:00:05Z", "2026-08-28T15:00:30Z"]

    count, start = busiest_window(due)

    assert count == 2
    assert start == START


def test_check_local_capacity_at_limit_does_not_warn():
    due = _due_in_one_window(LOCAL_CAPACITY_EVENTS_PER_10S)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check = check_local_capacity(due)

    assert check.within_capacity
    assert check.busiest_window_events == LOCAL_CAPACITY_EVENTS_PER_10S


def test_check_local_capacity_above_limit_warns():
    due = _due_in_one_window(LOCAL_CAPACITY_EVENTS_PER_10S + 1)

    with pytest.warns(CapacityWarning, match="2001 events are due within the 10 s"):
        check = check_local_capacity(due)

    assert not check.within_capacity
    assert check.busiest_window_start == START
    assert check.limit == LOCAL_CAPACITY_EVENTS_PER_10S


def test_check_local_capacity_spread_batch_does_not_warn():
    # 4,000 events over 40 s put at most 1,000 into any 10 s window.
    due = [START + timedelta(seconds=i * 0.01) for i in range(4000)]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check = check_local_capacity(due)

    assert check.busiest_window_events == 1000


def test_check_local_capacity_custom_limit_warns():
    with pytest.warns(CapacityWarning, match="more than the 5 the local lab"):
        check = check_local_capacity(_due_in_one_window(6), limit=5)

    assert check.busiest_window_events == 6
