"""Synthetic execution histories of realistic shapes, for tests and benchmarks.

The shapes are those the kit's state machine writes on AWS: a Wait state,
then a Task that invokes the action Lambda function by ARN (LambdaFunction*
events) or through ``arn:aws:states:::lambda:invoke`` (Task* events). The
timing model is an assumption, not a measurement: lateness of the Wait state
is log-normal with a median of 8 ms, and one Lambda start in ten is cold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from helpers.history import ExecutionHistory

# Each shape and its share of the executions.
SHAPES = {
    "succeeded": 0.90,
    "invoke_succeeded": 0.03,
    "retried": 0.02,
    "lambda_failed": 0.015,
    "bad_timestamp": 0.01,
    "aborted": 0.015,
    "overdue": 0.01,
}
ACCOUNT = "123456789012"
REGION = "us-east-1"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:synthetic-scheduler"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:synthetic-action"
BAD_TIMESTAMP_CAUSE = (
    "An error occurred while executing the state 'WaitForDueDate' (entered at "
    "the event id #2). The TimestampPath parameter does not reference a valid "
    "ISO-8601 extended offset date-time format string: $.dueDate == not-a-date"
)


@dataclass
class SyntheticRun:
    """Synthetic histories and the ``events.csv`` rows a client would have saved."""

    histories: list[ExecutionHistory]
    run_events: pd.DataFrame
    shapes: list[str]


def synthetic_run(
    count: int,
    *,
    seed: int = 0,
    start: datetime = datetime(2026, 8, 28, 15, 0, tzinfo=UTC),
) -> SyntheticRun:
    """Generate ``count`` closed executions with the shares of :data:`SHAPES`."""
    rng = np.random.default_rng(seed)
    shapes = rng.choice(list(SHAPES), size=count, p=list(SHAPES.values()))
    times = _draw_times(rng, count, start)
    _fire_overdue_at_once(times, shapes == "overdue", rng)
    histories, rows = [], []
    for index, shape in enumerate(shapes):
        at = {name: column[index] for name, column in times.items()}
        arn = (
            f"arn:aws:states:{REGION}:{ACCOUNT}:execution:synthetic-scheduler:e{index}"
        )
        events = _BUILDERS[shape](at, rng)
        status = _STATUS_OF_END[events[-1]["type"]]
        histories.append(ExecutionHistory(arn, status, events))
        rows.append(_run_row(index, arn, at, shape))
    return SyntheticRun(histories, pd.DataFrame(rows), [str(s) for s in shapes])


def _draw_times(
    rng: np.random.Generator, count: int, start: datetime
) -> dict[str, np.ndarray]:
    """Draw every step's time in epoch milliseconds, one array per step."""
    start_ms = int(start.timestamp() * 1000)
    submitted = start_ms + np.arange(count) * 50 + rng.integers(0, 50, count)
    due = submitted + rng.integers(60_000, 900_000, count)
    due_truncated = due - due % 1000
    started = submitted + 25 + rng.lognormal(np.log(20), 0.5, count).astype(np.int64)
    wait_exited = due_truncated + rng.lognormal(np.log(8), 0.6, count).astype(np.int64)
    task_entered = wait_exited + rng.integers(0, 3, count)
    lambda_started = task_entered + rng.integers(5, 30, count)
    cold = rng.random(count) < 0.1
    handler = lambda_started + np.where(
        cold, rng.integers(150, 400, count), rng.integers(1, 10, count)
    )
    return {
        "submitted": submitted,
        "due": due,
        "started": started,
        "wait_exited": wait_exited,
        "task_entered": task_entered,
        "lambda_started": lambda_started,
        "handler": handler,
        "aborted": started + rng.integers(1_000, 50_000, count),
    }


def _fire_overdue_at_once(
    times: dict[str, np.ndarray], overdue: np.ndarray, rng: np.random.Generator
) -> None:
    """Move overdue executions' due dates before submission; they fire at once."""
    count = int(overdue.sum())
    started = times["started"][overdue]
    times["due"][overdue] = times["submitted"][overdue] - rng.integers(
        5_000, 60_000, count
    )
    steps = {"wait_exited": 2, "task_entered": 3, "lambda_started": 20, "handler": 25}
    for step, offset_ms in steps.items():
        times[step][overdue] = started + offset_ms


def _iso(epoch_ms: int | np.integer) -> str:
    """Format epoch milliseconds as the histories file does: UTC with a Z."""
    moment = datetime.fromtimestamp(int(epoch_ms) / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run_row(index: int, arn: str, at: dict[str, Any], shape: str) -> dict[str, Any]:
    due = "not-a-date" if shape == "bad_timestamp" else _iso(at["due"])
    return {
        "id": f"e{index}",
        "dueDate": due,
        "submittedAt": _iso(at["submitted"]),
        "executionArn": arn,
        "status": "RUNNING",
        "overdue": shape == "overdue",
    }


class _History:
    """Append events with consecutive ids, each pointing at the one before."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, epoch_ms: int, **details: Any) -> _History:
        event_id = len(self.events) + 1
        event = {"timestamp": _iso(epoch_ms), "type": kind, "id": event_id}
        event["previousEventId"] = event_id - 1
        event.update(details)
        self.events.append(event)
        return self


def _input(at: dict[str, Any], due: str | None = None) -> str:
    return json.dumps({"dueDate": due or _iso(at["due"]), "data": {"n": 1}})


def _waited(at: dict[str, Any], due: str | None = None) -> _History:
    """Start the execution and enter the Wait state."""
    payload = _input(at, due)
    history = _History()
    history.add(
        "ExecutionStarted",
        at["started"],
        executionStartedEventDetails={"input": payload, "roleArn": "arn:role"},
    )
    return history.add(
        "WaitStateEntered",
        at["started"] + 1,
        stateEnteredEventDetails={"name": "WaitForDueDate", "input": payload},
    )


def _handler_output(at: dict[str, Any]) -> dict[str, Any]:
    return {
        "dueDate": _iso(at["due"]),
        "handlerTime": _iso(at["handler"]),
        "handlerLatenessMs": float(at["handler"] - at["due"]),
    }


def _succeeded(at: dict[str, Any], rng: np.random.Generator) -> list[dict]:
    history = _enter_task(_waited(at), at)
    _lambda_attempt(history, at["task_entered"], at["lambda_started"])
    output = json.dumps(_handler_output(at))
    end = at["handler"] + int(rng.integers(2, 20))
    history.add(
        "LambdaFunctionSucceeded",
        end,
        lambdaFunctionSucceededEventDetails={"output": output},
    )
    return _finish(history, end, output)


def _invoke_succeeded(at: dict[str, Any], rng: np.random.Generator) -> list[dict]:
    history = _enter_task(_waited(at), at)
    details = {"resourceType": "lambda", "resource": "invoke"}
    parameters = json.dumps({"FunctionName": FUNCTION, "Payload": {}})
    history.add(
        "TaskScheduled",
        at["task_entered"],
        taskScheduledEventDetails={**details, "parameters": parameters},
    )
    history.add("TaskStarted", at["lambda_started"], taskStartedEventDetails=details)
    output = json.dumps({"StatusCode": 200, "Payload": _handler_output(at)})
    end = at["handler"] + int(rng.integers(2, 20))
    history.add(
        "TaskSucceeded", end, taskSucceededEventDetails={**details, "output": output}
    )
    return _finish(history, end, output)


def _retried(at: dict[str, Any], rng: np.random.Generator) -> list[dict]:
    """Fail with Lambda.ServiceException once or twice, then succeed.

    The state machine retries after 1 s, then 2 s (IntervalSeconds 1,
    BackoffRate 2), so later attempts start that much after the first.
    """
    history = _enter_task(_waited(at), at)
    failures = int(rng.integers(1, 3))
    scheduled = at["task_entered"]
    for attempt in range(failures):
        started = scheduled + int(rng.integers(5, 30))
        _lambda_attempt(history, scheduled, started)
        history.add(
            "LambdaFunctionFailed",
            started + 10,
            lambdaFunctionFailedEventDetails={
                "error": "Lambda.ServiceException",
                "cause": "Rate exceeded",
            },
        )
        scheduled = started + 10 + 1000 * 2**attempt
    shifted = {**at, "handler": at["handler"] + scheduled - at["task_entered"]}
    _lambda_attempt(history, scheduled, scheduled + int(rng.integers(5, 30)))
    output = json.dumps(_handler_output(shifted))
    end = shifted["handler"] + 5
    history.add(
        "LambdaFunctionSucceeded",
        end,
        lambdaFunctionSucceededEventDetails={"output": output},
    )
    return _finish(history, end, output)


def _lambda_failed(at: dict[str, Any], rng: np.random.Generator) -> list[dict]:
    history = _enter_task(_waited(at), at)
    _lambda_attempt(history, at["task_entered"], at["lambda_started"])
    cause = json.dumps({"errorMessage": "boom", "errorType": "ValueError"})
    end = at["handler"] + int(rng.integers(2, 20))
    failure = {"error": "ValueError", "cause": cause}
    history.add("LambdaFunctionFailed", end, lambdaFunctionFailedEventDetails=failure)
    history.add("ExecutionFailed", end + 1, executionFailedEventDetails=failure)
    return history.events


def _bad_timestamp(at: dict[str, Any], rng: np.random.Generator) -> list[dict]:
    history = _waited(at, due="not-a-date")
    failure = {"error": "States.Runtime", "cause": BAD_TIMESTAMP_CAUSE}
    history.add(
        "ExecutionFailed", at["started"] + 2, executionFailedEventDetails=failure
    )
    return history.events


def _aborted(at: dict[str, Any], rng: np.random.Generator) -> list[dict]:
    history = _waited(at)
    abort = {"error": "Cancelled", "cause": "cancelled by the client"}
    history.add("ExecutionAborted", at["aborted"], executionAbortedEventDetails=abort)
    return history.events


def _enter_task(history: _History, at: dict[str, Any]) -> _History:
    state = {"name": "WaitForDueDate", "output": _input(at)}
    history.add("WaitStateExited", at["wait_exited"], stateExitedEventDetails=state)
    entered = {"name": "RunAction", "input": _input(at)}
    return history.add(
        "TaskStateEntered", at["task_entered"], stateEnteredEventDetails=entered
    )


def _lambda_attempt(history: _History, scheduled: int, started: int) -> None:
    details = {"resource": FUNCTION, "input": "{}"}
    history.add(
        "LambdaFunctionScheduled",
        scheduled,
        lambdaFunctionScheduledEventDetails=details,
    )
    history.add("LambdaFunctionStarted", started)


def _finish(history: _History, end: int, output: str) -> list[dict]:
    exited = {"name": "RunAction", "output": output}
    history.add("TaskStateExited", end + 1, stateExitedEventDetails=exited)
    history.add(
        "ExecutionSucceeded", end + 1, executionSucceededEventDetails={"output": output}
    )
    return history.events


_BUILDERS = {
    "succeeded": _succeeded,
    "invoke_succeeded": _invoke_succeeded,
    "retried": _retried,
    "lambda_failed": _lambda_failed,
    "bad_timestamp": _bad_timestamp,
    "aborted": _aborted,
    "overdue": _succeeded,
}
_STATUS_OF_END = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
}
