"""Follow one execution while it runs and show its history as a table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from helpers.target import Target

# The history event that marks entry into each state type.
_ENTERED_SUFFIX = "StateEntered"


@dataclass
class Observation:
    """The status and current state seen at one poll of an execution."""

    seen_at: datetime
    status: str
    state: str | None


def current_state(events: list[dict]) -> str | None:
    """Return the name of the state the execution is in, or None once it has closed."""
    entered = [e for e in events if e["type"].endswith(_ENTERED_SUFFIX)]
    exited = {e.get("previousEventId") for e in events if "StateExited" in e["type"]}
    open_states = [e for e in entered if e["id"] not in exited]
    if not open_states:
        return None
    return open_states[-1]["stateEnteredEventDetails"]["name"]


def follow_execution(
    target: Target,
    execution_arn: str,
    *,
    timeout_s: float = 120.0,
    poll_s: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Observation]:
    """Poll the execution until it closes; return each change of status or state.

    Raises TimeoutError if it is still running after ``timeout_s`` seconds.
    """
    client = target.client("stepfunctions")
    observations: list[Observation] = []
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.describe_execution(executionArn=execution_arn)["status"]
        events = client.get_execution_history(executionArn=execution_arn)["events"]
        state = current_state(events) if status == "RUNNING" else None
        if not observations or (status, state) != (
            observations[-1].status,
            observations[-1].state,
        ):
            observations.append(Observation(datetime.now(UTC), status, state))
        if status != "RUNNING":
            return observations
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"execution {execution_arn} still runs after {timeout_s:.0f} s"
            )
        sleep(poll_s)


def history_table(target: Target, execution_arn: str) -> pd.DataFrame:
    """Return the execution's history: one row per event with its time since start."""
    client = target.client("stepfunctions")
    pages = client.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn
    )
    events = [event for page in pages for event in page["events"]]
    frame = pd.DataFrame(
        {
            "id": [e["id"] for e in events],
            "type": [e["type"] for e in events],
            "state": [_state_name(e) for e in events],
            "timestamp": pd.to_datetime([e["timestamp"] for e in events], utc=True),
        }
    )
    started = frame["timestamp"].iloc[0]
    frame["since_start_ms"] = (frame["timestamp"] - started).dt.total_seconds() * 1000
    return frame.set_index("id")


def _state_name(event: dict) -> str:
    for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        if key in event:
            return event[key]["name"]
    return ""
