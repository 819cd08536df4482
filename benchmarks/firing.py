"""Firing speed: the kit's batch firing against a sequential loop of requests.

Both fire the same kind of event through the local gateway with signed HTTP
requests: ``helpers.events.fire_batch`` with its bounded thread pool, and a
loop calling ``helpers.events.fire_event`` once per event. The events are due
an hour later, so no execution leaves its Wait state during the benchmark.
The two modes alternate within each repeat to share any drift of the lab.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from benchmarks.lab import bench_lab
from benchmarks.timing import Timing, time_call
from helpers.events import Endpoint, fire_batch, fire_event, make_endpoint

logger = logging.getLogger(__name__)

DUE_AFTER = timedelta(hours=1)
BATCH_WORKERS = 16  # fire_batch's default concurrency


@dataclass
class FiringResult:
    """Events per second of batch and sequential firing of N events."""

    events: int
    batch: Timing
    sequential: Timing

    @property
    def speedup(self) -> float:
        return self.sequential.median_s / self.batch.median_s


def _events(count: int, tag: str) -> list[dict]:
    due = (datetime.now(UTC) + DUE_AFTER).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {"id": f"fire-{tag}-{index}", "dueDate": due, "data": {"index": index}}
        for index in range(count)
    ]


def _fire_sequentially(endpoint: Endpoint, events: list[dict]) -> None:
    for event in events:
        fire_event(endpoint, event["dueDate"], event["data"], event["id"])


def _fire_in_batch(endpoint: Endpoint, events: list[dict]) -> None:
    frame = fire_batch(endpoint, events, max_workers=BATCH_WORKERS, progress=False)
    failed = frame[frame["outcome"] != "scheduled"]
    if not failed.empty:
        raise RuntimeError(
            f"{len(failed)} of {len(events)} events were not scheduled; first "
            f"error: {failed['error'].iloc[0]}"
        )


def measure_firing(events: int, repeats: int) -> FiringResult:
    """Fire ``events`` events ``repeats`` times in each mode on a fresh lab."""
    timings: dict[str, list[float]] = {"batch": [], "sequential": []}
    fire = {"batch": _fire_in_batch, "sequential": _fire_sequentially}
    with bench_lab() as bench:
        endpoint = make_endpoint(bench.target, bench.stack, pool_size=BATCH_WORKERS)
        for repeat in range(repeats):
            order = (
                ["batch", "sequential"] if repeat % 2 == 0 else ["sequential", "batch"]
            )
            for mode in order:
                batch_events = _events(events, f"{mode}-{repeat}")
                seconds = time_call(fire[mode], endpoint, batch_events)
                timings[mode].append(seconds)
            logger.info("fired %d events: repeat %d done", events, repeat + 1)
    return FiringResult(events, Timing(timings["batch"]), Timing(timings["sequential"]))
