"""Repeat a timed step and keep the median, so one slow repeat does not decide."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Timing:
    """Wall-clock seconds of each repeat of one step, and their median."""

    seconds: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def rate(self, items: int) -> float:
        """Return items per second at the median time."""
        return items / self.median_s


def time_call(step: Callable[..., object], *arguments: object) -> float:
    """Run ``step(*arguments)`` once and return its wall-clock time in seconds."""
    began = time.perf_counter()
    step(*arguments)
    return time.perf_counter() - began
