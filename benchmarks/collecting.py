"""Collecting speed: the kit's collector against a sequential loop of requests.

N executions due in the past are started directly with StartExecution and
run to the end before anything is timed. Then
``helpers.history.collect_histories`` (its thread pool, unpaced as on the
local target) and a loop of ``get_execution_history`` calls each fetch all N
histories. The two
modes alternate within each repeat to share any drift of the lab.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from benchmarks.lab import BenchLab, bench_lab
from benchmarks.timing import Timing, time_call
from helpers.history import DEFAULT_WORKERS, collect_histories

logger = logging.getLogger(__name__)

START_WORKERS = 8
# Every execution ends within seconds on the lab; this bounds the wait.
SETTLE_TIMEOUT_S = 120.0


@dataclass
class CollectingResult:
    """Histories per second of the kit's collector and of a sequential loop."""

    histories: int
    collector: Timing
    sequential: Timing

    @property
    def speedup(self) -> float:
        return self.sequential.median_s / self.collector.median_s


def _start_finished_executions(bench: BenchLab, count: int) -> list[str]:
    """Start ``count`` executions due a minute ago and wait until all have ended."""
    client = bench.target.client("stepfunctions")
    due = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def start(index: int) -> str:
        body = json.dumps({"dueDate": due, "data": {"index": index}})
        return client.start_execution(
            stateMachineArn=bench.stack.state_machine_arn,
            name=f"collect-{index}",
            input=body,
        )["executionArn"]

    with ThreadPoolExecutor(START_WORKERS) as pool:
        arns = list(pool.map(start, range(count)))
    _wait_until_ended(client, arns)
    return arns


def _wait_until_ended(client, arns: list[str]) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    for arn in arns:
        while client.describe_execution(executionArn=arn)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"execution {arn} is still running after "
                    f"{SETTLE_TIMEOUT_S:.0f} s; the lab may be overloaded"
                )
            time.sleep(0.2)


def _collect_with_kit(client, arns: list[str]) -> None:
    result = collect_histories(client, arns, workers=DEFAULT_WORKERS, progress=False)
    if len(result.histories) != len(arns):
        raise RuntimeError(
            f"the collector returned {len(result.histories)} of {len(arns)} "
            f"histories; running: {len(result.running)}, missing: "
            f"{len(result.missing)}"
        )


def _collect_sequentially(client, arns: list[str]) -> None:
    for arn in arns:
        client.get_execution_history(executionArn=arn, maxResults=1000)


def measure_collecting(histories: int, repeats: int) -> CollectingResult:
    """Collect ``histories`` histories ``repeats`` times in each mode."""
    timings: dict[str, list[float]] = {"collector": [], "sequential": []}
    collect = {"collector": _collect_with_kit, "sequential": _collect_sequentially}
    with bench_lab() as bench:
        arns = _start_finished_executions(bench, histories)
        client = bench.target.client("stepfunctions")
        for repeat in range(repeats):
            order = ["collector", "sequential"]
            if repeat % 2:
                order.reverse()
            for mode in order:
                timings[mode].append(time_call(collect[mode], client, arns))
            logger.info("collected %d histories: repeat %d done", histories, repeat + 1)
    return CollectingResult(
        histories, Timing(timings["collector"]), Timing(timings["sequential"])
    )
