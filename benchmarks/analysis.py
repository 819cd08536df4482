"""Analysis speed: the latency table and its summary for many synthetic executions.

``helpers.synthetic.synthetic_run`` generates the histories and the client's
``events.csv`` rows outside the timed step. The timed step is
``helpers.latency.latency_table`` followed by ``latency_summary`` and
``category_counts``, what a notebook runs after collecting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from benchmarks.timing import Timing, time_call
from helpers.latency import category_counts, latency_summary, latency_table
from helpers.synthetic import SyntheticRun, synthetic_run

logger = logging.getLogger(__name__)


@dataclass
class AnalysisResult:
    """Seconds to build the table and metrics of N executions."""

    executions: int
    timing: Timing

    @property
    def ms_per_1000(self) -> float:
        """Median milliseconds per 1,000 executions."""
        return self.timing.median_s * 1000 / (self.executions / 1000)


def _analyse(run: SyntheticRun) -> None:
    table = latency_table(run.histories, run.run_events)
    latency_summary(table)
    category_counts(table)


def measure_analysis(executions: int, repeats: int) -> AnalysisResult:
    """Time the analysis of ``executions`` synthetic executions ``repeats`` times."""
    run = synthetic_run(executions, seed=executions)
    seconds = [time_call(_analyse, run) for _ in range(repeats)]
    logger.info("analysed %d executions %d times", executions, repeats)
    return AnalysisResult(executions, Timing(seconds))
