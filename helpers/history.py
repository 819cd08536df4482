"""Collect the histories of Step Functions executions: paced, parallel, resumable.

A collection fetches each execution's whole history with the
``get_execution_history`` paginator from a few threads, and appends one JSON
line per closed execution to a histories file (``histories.jsonl`` in the run
directory), flushed as soon as the execution is fetched. An interrupted
collection therefore resumes without fetching any closed execution twice.

Only closed executions (SUCCEEDED, FAILED, ABORTED, TIMED_OUT) are final, so
only they are written. A RUNNING execution is reported in
:attr:`CollectionResult.running`, is not written, and is fetched again by the
next collection.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError
from tqdm import tqdm

from helpers.target import Target

logger = logging.getLogger(__name__)

HISTORIES_FILE = "histories.jsonl"
RUN_EVENTS_FILE = "events.csv"
RUN_METADATA_FILE = "run.json"

# The event that closes an execution, and the status it closes it with.
CLOSING_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}

# AWS refills the GetExecutionHistory token bucket of each account and Region
# at 20 requests per second (Step Functions service quotas, API action
# throttling). The collector paces itself at 80% of that, so the console and
# other clients of the same account keep some room.
AWS_HISTORY_REQUESTS_PER_SECOND = 16.0
# The local emulator (moto 5.2.5) emulates no throttling, so the local pace is
# unbounded and only the number of threads limits it.
LOCAL_HISTORY_REQUESTS_PER_SECOND: float | None = None
DEFAULT_WORKERS = 8
# GetExecutionHistory returns at most 1000 events a page; our executions have
# about ten, so one request per execution is the norm on AWS.
PAGE_SIZE = 1000


class HistoryError(RuntimeError):
    """Execution histories could not be collected or read."""


@dataclass(frozen=True)
class ExecutionHistory:
    """The whole history of one closed execution.

    ``events`` are the events as GetExecutionHistory returns them, except that
    every timestamp is an ISO 8601 string in UTC with millisecond precision
    (``2026-08-28T15:00:00.012Z``). The history therefore survives JSON and
    does not depend on the time zone of the process that fetched it.
    """

    execution_arn: str
    status: str
    events: list[dict[str, Any]]

    @classmethod
    def from_events(
        cls, execution_arn: str, events: Sequence[dict[str, Any]]
    ) -> ExecutionHistory | None:
        """Build the history from boto3 events; return None unless it is closed."""
        status = CLOSING_EVENTS.get(events[-1]["type"]) if events else None
        if status is None:
            return None
        return cls(execution_arn, status, [_normalize_event(e) for e in events])

    @classmethod
    def from_json(cls, line: str) -> ExecutionHistory:
        raw = json.loads(line)
        return cls(raw["executionArn"], raw["status"], raw["events"])

    def to_json(self) -> str:
        raw = {
            "executionArn": self.execution_arn,
            "status": self.status,
            "events": self.events,
        }
        return json.dumps(raw, separators=(",", ":"))


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as UTC ISO 8601 with milliseconds and a ``Z``."""
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment!r} has no time zone; pass an aware one")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    """Copy an event with its timestamp (tz-aware, in botocore's local zone) as UTC."""
    normalized = dict(event)
    timestamp = normalized["timestamp"]
    if isinstance(timestamp, datetime):
        normalized["timestamp"] = format_timestamp(timestamp)
    return normalized


@dataclass
class CollectionResult:
    """The outcome of one collection: closed histories and the executions left out."""

    histories: list[ExecutionHistory]
    fetched: int
    reused: int
    running: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    path: Path | None = None


class TokenBucket:
    """Pace callers at ``rate`` requests per second, with bursts of ``capacity``.

    Safe to share between threads. Each :meth:`acquire` takes one token. A
    caller that finds none reserves the next one and sleeps until it is due,
    so callers are served in the order they arrived and never retry.
    """

    def __init__(
        self,
        rate: float,
        capacity: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError(
                f"invalid token bucket rate={rate} capacity={capacity}: the rate "
                "must be positive and the capacity at least 1"
            )
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; return the seconds slept."""
        with self._lock:
            now = self._clock()
            refill = (now - self._updated) * self.rate
            self._tokens = min(self.capacity, self._tokens + refill) - 1
            self._updated = now
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


def default_rate(target: Target) -> float | None:
    """Return the GetExecutionHistory pace for ``target`` in requests per second."""
    if target.kind == "aws":
        return AWS_HISTORY_REQUESTS_PER_SECOND
    return LOCAL_HISTORY_REQUESTS_PER_SECOND


@contextlib.contextmanager
def paced(client: Any, bucket: TokenBucket | None) -> Iterator[None]:
    """Make every GetExecutionHistory call of ``client`` take a token first.

    The handler runs at ``before-parameter-build``, which botocore emits once
    per API call, also for calls that botocore's Stubber returns responses for.
    Retries happen later and are paced by the client's adaptive retry mode.
    With ``bucket=None`` nothing is paced.
    """
    if bucket is None:
        yield
        return

    def take_token(**_: Any) -> None:
        bucket.acquire()

    event_name = "before-parameter-build.sfn.GetExecutionHistory"
    client.meta.events.register(event_name, take_token)
    try:
        yield
    finally:
        client.meta.events.unregister(event_name, take_token)


def fetch_history(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Fetch every event of one execution, following ``nextToken`` page by page."""
    paginator = client.get_paginator("get_execution_history")
    pages = paginator.paginate(
        executionArn=execution_arn,
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    return [event for page in pages for event in page["events"]]


def read_histories(path: Path) -> dict[str, ExecutionHistory]:
    """Read a histories file; map execution ARN to history (the last line wins).

    A line that is not valid JSON (the tail of a write that was interrupted)
    is skipped and logged, so its execution is fetched again.
    """
    histories: dict[str, ExecutionHistory] = {}
    if not path.exists():
        return histories
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                history = ExecutionHistory.from_json(line)
            except (json.JSONDecodeError, KeyError) as error:
                logger.warning(
                    "skipping invalid line %d of %s: %s", number, path, error
                )
                continue
            histories[history.execution_arn] = history
    return histories


class _HistoryWriter:
    """Append histories to a file, one flushed line each."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
            if self._file.tell() > 0 and not _ends_with_newline(path):
                self._file.write("\n")  # end a line cut short by an interruption

    def write(self, history: ExecutionHistory) -> None:
        if self._file is not None:
            self._file.write(history.to_json() + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as raw:
        raw.seek(-1, 2)
        return raw.read(1) == b"\n"


def collect_histories(
    client: Any,
    execution_arns: Iterable[str],
    path: Path | None = None,
    *,
    rate: float | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CollectionResult:
    """Fetch the history of each execution that ``path`` does not store yet.

    Parameters
    ----------
    client:
        A Step Functions client, shared by the ``workers`` threads.
    path:
        The histories file to resume from and append to; None keeps nothing.
    rate:
        GetExecutionHistory requests per second over all threads, or None for
        no pacing; :func:`default_rate` gives the right value for a target.

    If fetching one execution raises (other than ExecutionDoesNotExist), the
    collection stops submitting, keeps what the threads already fetched and
    re-raises, so the next call resumes from there.
    """
    arns = list(dict.fromkeys(execution_arns))
    stored = read_histories(path) if path is not None else {}
    pending = [arn for arn in arns if arn not in stored]
    bucket = TokenBucket(rate, clock=clock, sleep=sleep) if rate else None
    logger.info(
        "collecting %d execution histories (%d already stored, %s requests/s)",
        len(pending), len(arns) - len(pending), rate or "unbounded",
    )  # fmt: skip

    result = CollectionResult([], fetched=0, reused=len(arns) - len(pending), path=path)
    writer = _HistoryWriter(path)
    try:
        with paced(client, bucket):
            _fetch_all(client, pending, workers, progress, writer, result, stored)
    finally:
        writer.close()
    result.histories = [stored[arn] for arn in arns if arn in stored]
    return result


def _fetch_all(
    client: Any,
    pending: list[str],
    workers: int,
    progress: bool,
    writer: _HistoryWriter,
    result: CollectionResult,
    stored: dict[str, ExecutionHistory],
) -> None:
    """Fetch ``pending`` from a thread pool; store each closed history as it ends."""
    failure: BaseException | None = None
    bar = tqdm(
        total=len(pending), unit="execution", desc="histories", disable=not progress
    )
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="history")
    futures: dict[Future, str] = {}
    try:
        futures = {pool.submit(fetch_history, client, arn): arn for arn in pending}
        for future in as_completed(futures):
            if future.cancelled():
                continue
            bar.update(1)
            arn = futures[future]
            error = future.exception()
            if error is None:
                _store(arn, future.result(), writer, result, stored)
            elif not _is_missing(error, arn, result):
                failure = failure or error
                _cancel(futures)
    except BaseException:  # KeyboardInterrupt included: stop the queued fetches
        _cancel(futures)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    if failure is not None:
        raise failure


def _store(
    arn: str,
    events: list[dict[str, Any]],
    writer: _HistoryWriter,
    result: CollectionResult,
    stored: dict[str, ExecutionHistory],
) -> None:
    history = ExecutionHistory.from_events(arn, events)
    if history is None:
        logger.debug("execution %s is still running; not stored", arn)
        result.running.append(arn)
        return
    writer.write(history)
    stored[arn] = history
    result.fetched += 1


def _is_missing(error: BaseException, arn: str, result: CollectionResult) -> bool:
    """Record ``arn`` as missing if ``error`` reports a nonexistent execution."""
    if not isinstance(error, ClientError):
        return False
    if error.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
        return False
    logger.warning("execution %s does not exist: %s", arn, error)
    result.missing.append(arn)
    return True


def _cancel(futures: dict[Future, str]) -> None:
    for future in futures:
        future.cancel()


def read_run_events(run_dir: Path) -> pd.DataFrame:
    """Read ``events.csv`` of a saved run: one row per submitted event."""
    path = Path(run_dir) / RUN_EVENTS_FILE
    if not path.exists():
        raise HistoryError(
            f"{path} not found: save the run with helpers.events.save_run first"
        )
    return pd.read_csv(path, dtype={"id": str, "executionArn": str, "dueDate": str})


def read_run_metadata(run_dir: Path) -> dict[str, Any]:
    """Read ``run.json`` of a saved run, or return {} if the run has none."""
    path = Path(run_dir) / RUN_METADATA_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def collect_run(
    target: Target,
    run_dir: Path,
    *,
    rate: float | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
) -> CollectionResult:
    """Collect the histories of every execution of a saved run into its directory.

    Events that never started an execution (no ``executionArn``) are skipped.
    ``rate`` defaults to :func:`default_rate` of the target.
    """
    run_dir = Path(run_dir)
    events = read_run_events(run_dir)
    arns = events["executionArn"].dropna().loc[lambda s: s != ""].tolist()
    return collect_histories(
        target.client("stepfunctions"),
        arns,
        run_dir / HISTORIES_FILE,
        rate=default_rate(target) if rate is None else rate,
        workers=workers,
        progress=progress,
    )


def list_execution_arns(
    client: Any, state_machine_arn: str, start: datetime, end: datetime
) -> list[str]:
    """List the executions of a state machine started in ``[start, end)``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(
            f"start={start!r} and end={end!r} must be timezone-aware datetimes"
        )
    arns = []
    paginator = client.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=state_machine_arn):
        for execution in page["executions"]:
            if start <= execution["startDate"] < end:
                arns.append(execution["executionArn"])
    return arns


def collect_state_machine(
    target: Target,
    state_machine_arn: str,
    start: datetime,
    end: datetime,
    path: Path | None = None,
    *,
    rate: float | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
) -> CollectionResult:
    """Collect the histories of a state machine's executions started in a range."""
    client = target.client("stepfunctions")
    arns = list_execution_arns(client, state_machine_arn, start, end)
    return collect_histories(
        client,
        arns,
        path,
        rate=default_rate(target) if rate is None else rate,
        workers=workers,
        progress=progress,
    )
