"""How many events the local lab keeps on time, and a check for a planned batch.

The local emulator runs every execution in its own thread of one Python
process, so many events due at the same moment compete for one interpreter.
``python -m benchmarks.run`` measures the lateness of the Wait state's end for
events due within one 10 s window; docs/benchmarks.md records the results.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

logger = logging.getLogger(__name__)

CAPACITY_WINDOW_S = 10
# The largest number of events due within one 10 s window for which the
# benchmark measured a p99 wait-end lateness under 1 s on a 2-core machine
# (moto 5.2.5, Python 3.11, with the Lambda client reuse of helpers.labserver).
# The Task state starts right after the wait, so trigger latency holds too.
# NOTE: at 2,000 the Lambda tasks queue up, and executions ended up to 12 s
# late on an idle machine (1,000 kept them within about 0.1 s). 2,000 is also
# the largest size the benchmark runs, not a measured breaking point; see
# docs/benchmarks.md.
LOCAL_CAPACITY_EVENTS_PER_10S = 2000


class CapacityWarning(UserWarning):
    """More events are due within one window than the local lab keeps on time."""


@dataclass(frozen=True)
class CapacityCheck:
    """The busiest window of a planned batch, compared with the lab's capacity."""

    busiest_window_events: int
    busiest_window_start: datetime | None
    limit: int
    window_s: int

    @property
    def within_capacity(self) -> bool:
        return self.busiest_window_events <= self.limit


def _as_datetime(due_date: datetime | str) -> datetime:
    if isinstance(due_date, datetime):
        return due_date
    return datetime.fromisoformat(due_date)


def busiest_window(
    due_dates: Iterable[datetime | str], window_s: int = CAPACITY_WINDOW_S
) -> tuple[int, datetime | None]:
    """Return the most events due within any ``window_s`` seconds, and its start.

    Due dates are datetimes or RFC 3339 strings such as ``2026-08-28T15:00:00Z``,
    all with a time zone or all without. A window is half-open: it contains the
    due dates from its start to less than ``window_s`` seconds later. Returns
    ``(0, None)`` for no due dates.
    """
    ordered = sorted(_as_datetime(due_date) for due_date in due_dates)
    best, best_start, first = 0, None, 0
    for last, due in enumerate(ordered):
        while (due - ordered[first]).total_seconds() >= window_s:
            first += 1
        if last - first + 1 > best:
            best, best_start = last - first + 1, ordered[first]
    return best, best_start


def check_local_capacity(
    due_dates: Iterable[datetime | str], limit: int = LOCAL_CAPACITY_EVENTS_PER_10S
) -> CapacityCheck:
    """Warn with :class:`CapacityWarning` if too many events share one window.

    Call it with the due dates of a batch before firing it at the local lab.
    Events beyond the limit still run, but their Wait states may end late
    because the emulator cannot wake that many threads on time.
    """
    count, start = busiest_window(due_dates, CAPACITY_WINDOW_S)
    check = CapacityCheck(count, start, limit, CAPACITY_WINDOW_S)
    logger.debug(
        "busiest %d s window: %d events from %s", CAPACITY_WINDOW_S, count, start
    )
    if not check.within_capacity:
        message = (
            f"{count} events are due within the {CAPACITY_WINDOW_S} s from "
            f"{start:%Y-%m-%dT%H:%M:%SZ}, more than the {limit} the local lab was "
            "measured to keep within 1 s (p99); spread the due dates over a "
            "longer window or expect late events"
        )
        warnings.warn(message, CapacityWarning, stacklevel=2)
    return check
