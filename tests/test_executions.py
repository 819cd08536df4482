"""Following an execution, its history table and the state machine drawing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from helpers import artifacts
from helpers.diagram import draw_state_machine, state_chain
from helpers.executions import current_state, follow_execution, history_table


def _start_due_in(target, stack, event_id: str, seconds: int) -> str:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
    payload = {"dueDate": due.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": {"n": 1}}
    return target.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn,
        name=event_id,
        input=json.dumps(payload),
    )["executionArn"]


def test_follow_execution_sees_wait_then_success(target, stack, event_id):
    arn = _start_due_in(target, stack, event_id, seconds=2)

    observations = follow_execution(target, arn, timeout_s=30)

    assert observations[0].status == "RUNNING"
    assert observations[0].state == "WaitForDueDate"
    assert observations[-1].status == "SUCCEEDED"
    assert observations[-1].state is None


def test_follow_execution_times_out(target, stack, event_id):
    arn = _start_due_in(target, stack, event_id, seconds=3600)

    with pytest.raises(TimeoutError, match="still runs"):
        follow_execution(target, arn, timeout_s=0, sleep=lambda s: None)

    target.client("stepfunctions").stop_execution(executionArn=arn)


def test_history_table_lists_events_in_order(target, stack, event_id):
    arn = _start_due_in(target, stack, event_id, seconds=1)
    follow_execution(target, arn, timeout_s=30)

    table = history_table(target, arn)

    assert list(table["type"].iloc[:3]) == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
    ]
    assert table["type"].iloc[-1] == "ExecutionSucceeded"
    assert str(table["timestamp"].dt.tz) == "UTC"
    assert table["since_start_ms"].is_monotonic_increasing


def test_current_state_is_last_entered_not_exited():
    events = [
        {"id": 1, "type": "ExecutionStarted"},
        {"id": 2, "type": "WaitStateEntered",
         "stateEnteredEventDetails": {"name": "WaitForDueDate"}},
        {"id": 3, "type": "WaitStateExited", "previousEventId": 2},
        {"id": 4, "type": "TaskStateEntered", "previousEventId": 3,
         "stateEnteredEventDetails": {"name": "RunAction"}},
    ]  # fmt: skip

    assert current_state(events) == "RunAction"
    assert current_state(events[:3]) is None


def test_state_chain_follows_next():
    definition = json.loads(artifacts.state_machine_definition("arn:fn"))

    assert state_chain(definition) == ["WaitForDueDate", "RunAction"]


def test_state_chain_rejects_loop():
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"},
        },
    }

    with pytest.raises(ValueError, match="loop"):
        state_chain(definition)


def test_draw_state_machine_labels_each_state():
    figure = draw_state_machine(artifacts.state_machine_definition("arn:fn:demo"))

    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts[0] == "Start"
    assert "WaitForDueDate\n(Wait)\nuntil $.dueDate" in texts
    assert "RunAction\n(Task)\ndemo" in texts
    assert texts[-1].startswith("Retry")
