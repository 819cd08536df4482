"""Capacity of the local lab: many events due within one 10 s window.

Each size runs on a fresh lab, so the emulator's peak resident memory (VmHWM)
belongs to that size alone. Events are started ahead of time with
StartExecution directly, because this measures the emulator's Wait state and
Lambda task, not the local gateway. Their due dates are spread over the ten
whole seconds of the window, a tenth of the events in each second.
"""

from __future__ import annotations

import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from benchmarks.lab import BenchLab, bench_lab
from benchmarks.procstats import ProcessSampler, read_sample

logger = logging.getLogger(__name__)

WINDOW_S = 10
# Events are due after a lead time long enough to start all of them first:
# LEAD_BASE_S plus N / ASSUMED_START_RATE seconds. The emulator started about
# 170 executions per second on 2 cores, so 40 leaves room for a loaded machine.
LEAD_BASE_S = 10.0
ASSUMED_START_RATE = 40.0
START_WORKERS = 8
HISTORY_WORKERS = 4
# Polling for running executions stops this long after the window ends. An
# execution still running then counts as not measured.
SETTLE_S = 180.0


_EXECUTION_ENDS = {
    "ExecutionSucceeded",
    "ExecutionFailed",
    "ExecutionAborted",
    "ExecutionTimedOut",
}


@dataclass
class EventLateness:
    """Seconds from an event's due date to its execution's start, wait end and end."""

    started_s: float
    wait_end_s: float
    end_s: float


@dataclass
class EmulatorLoad:
    """The emulator's peak memory and threads, and its CPU time in the window.

    ``window_cpu_s`` is measured from the window's start to 1 s after its end,
    before the benchmark lists executions again.
    """

    peak_rss_mib: float
    peak_threads: int
    window_cpu_s: float


@dataclass
class CapacityResult:
    """Lateness of N events' wait ends and execution ends in seconds, and load.

    ``p50_s`` to ``min_s`` describe the wait end (WaitStateExited minus the due
    date); ``end_p99_s`` and ``end_max_s`` the execution's end, after the
    Lambda task.
    """

    events: int
    started_late: int
    missing_wait_exit: int
    missing_end: int
    p50_s: float
    p99_s: float
    max_s: float
    min_s: float
    end_p99_s: float
    end_max_s: float
    load: EmulatorLoad


def _due_dates(events: int, window_start: datetime) -> list[datetime]:
    return [window_start + timedelta(seconds=i % WINDOW_S) for i in range(events)]


def _window_start(events: int) -> datetime:
    lead = LEAD_BASE_S + events / ASSUMED_START_RATE
    start = datetime.now(UTC) + timedelta(seconds=lead)
    return start.replace(microsecond=0) + timedelta(seconds=1)


def _start_events(bench: BenchLab, due_dates: list[datetime]) -> list[str]:
    """Start one execution per due date and return their ARNs in order."""
    client = bench.target.client("stepfunctions")
    machine = bench.stack.state_machine_arn

    def start(index: int) -> str:
        due = due_dates[index].strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"dueDate": due, "data": {"index": index}}
        return client.start_execution(
            stateMachineArn=machine, name=f"cap-{index}", input=json.dumps(body)
        )["executionArn"]

    with ThreadPoolExecutor(START_WORKERS) as pool:
        return list(pool.map(start, range(len(due_dates))))


def _wait_until(moment: datetime) -> None:
    remaining = (moment - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        time.sleep(remaining)


def _count_running(client, machine_arn: str) -> int:
    """Count running executions from the full listing.

    The listing is not filtered by status because moto 5.2.5 invalidates the
    page token of a RUNNING-filtered listing when an execution ends meanwhile.
    """
    paginator = client.get_paginator("list_executions")
    pages = paginator.paginate(stateMachineArn=machine_arn)
    return sum(
        1
        for page in pages
        for execution in page["executions"]
        if execution["status"] == "RUNNING"
    )


def _wait_for_executions(bench: BenchLab, deadline: datetime) -> int:
    """Poll until no execution runs or the deadline passes; return those running."""
    client = bench.target.client("stepfunctions")
    while True:
        running = _count_running(client, bench.stack.state_machine_arn)
        if running == 0 or datetime.now(UTC) > deadline:
            return running
        time.sleep(2.0)


def _histories(bench: BenchLab, arns: list[str]) -> list[list[dict]]:
    client = bench.target.client("stepfunctions")

    def history(arn: str) -> list[dict]:
        return client.get_execution_history(executionArn=arn, maxResults=1000)["events"]

    with ThreadPoolExecutor(HISTORY_WORKERS) as pool:
        return list(pool.map(history, arns))


def event_lateness(events: list[dict], due: datetime) -> EventLateness:
    """Return when an execution started, ended its wait and ended, relative to due.

    The due date is truncated to the second, as moto's Wait state truncates it.
    A time is NaN when the history lacks its event.
    """
    due = due.replace(microsecond=0)

    def seconds_after_due(event_types: set[str]) -> float:
        for event in events:
            if event["type"] in event_types:
                return (event["timestamp"] - due).total_seconds()
        return math.nan

    return EventLateness(
        started_s=seconds_after_due({"ExecutionStarted"}),
        wait_end_s=seconds_after_due({"WaitStateExited"}),
        end_s=seconds_after_due(_EXECUTION_ENDS),
    )


def measure_capacity(events: int, reuse_lambda_clients: bool = True) -> CapacityResult:
    """Start ``events`` executions due within one window on a fresh lab; measure.

    ``reuse_lambda_clients=False`` measures the emulator without the client
    cache of ``helpers.labserver``, as a baseline.
    """
    with bench_lab(reuse_lambda_clients) as bench:
        window_start = _window_start(events)
        due_dates = _due_dates(events, window_start)
        pid = bench.emulator_pid
        with ProcessSampler(pid) as sampler:
            firing_began = time.monotonic()
            arns = _start_events(bench, due_dates)
            logger.info(
                "started %d executions in %.1f s; the window starts at %s",
                events, time.monotonic() - firing_began, window_start,
            )  # fmt: skip
            _wait_until(window_start)
            before = read_sample(pid)
            # Nothing polls the emulator during the window, so the benchmark's
            # own requests cannot delay the events it measures.
            window_end = window_start + timedelta(seconds=WINDOW_S + 1)
            _wait_until(window_end)
            after = read_sample(pid)
            _wait_for_executions(bench, window_end + timedelta(seconds=SETTLE_S))
        histories = _histories(bench, arns)
        peak_rss_kib = read_sample(pid).peak_rss_kib

    load = EmulatorLoad(
        peak_rss_mib=peak_rss_kib / 1024,
        peak_threads=sampler.peak_threads,
        window_cpu_s=after.cpu_s - before.cpu_s,
    )
    lateness = [event_lateness(h, d) for h, d in zip(histories, due_dates, strict=True)]
    return summarise_capacity(lateness, load)


def _percentiles(values: np.ndarray) -> tuple[float, float, float, float]:
    """Return p50, p99, max and min, or NaNs when ``values`` is empty."""
    if values.size == 0:
        return (math.nan,) * 4
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99), float(values.max()), float(values.min())


def summarise_capacity(
    lateness: list[EventLateness], load: EmulatorLoad
) -> CapacityResult:
    """Reduce per-event lateness to percentiles; count events not measured."""
    wait_ends = np.array([item.wait_end_s for item in lateness])
    ends = np.array([item.end_s for item in lateness])
    # moto waits int(due - now) whole seconds, so an execution that started
    # less than 1 s before its due date had no wait left to measure.
    started_late = sum(1 for item in lateness if not item.started_s <= -1.0)
    p50, p99, maximum, minimum = _percentiles(wait_ends[~np.isnan(wait_ends)])
    _, end_p99, end_max, _ = _percentiles(ends[~np.isnan(ends)])
    return CapacityResult(
        events=len(lateness),
        started_late=started_late,
        missing_wait_exit=int(np.isnan(wait_ends).sum()),
        missing_end=int(np.isnan(ends).sum()),
        p50_s=p50,
        p99_s=p99,
        max_s=maximum,
        min_s=minimum,
        end_p99_s=end_p99,
        end_max_s=end_max,
        load=load,
    )
