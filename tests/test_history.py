"""Collecting execution histories: paging, pacing, resuming and running executions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber
from realruns import deploy_machines, due_in, start, wait_closed

from helpers.history import (
    HISTORIES_FILE,
    PAGE_SIZE,
    ExecutionHistory,
    TokenBucket,
    collect_histories,
    collect_run,
    collect_state_machine,
    fetch_history,
    format_timestamp,
    read_histories,
)

ARN = "arn:aws:states:us-east-1:123456789012:execution:scheduler:evt-1"


class FakeClock:
    """A monotonic clock that only advances when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _event(event_id: int, kind: str, second: int) -> dict:
    moment = datetime(2026, 8, 28, 15, 0, second, tzinfo=UTC)
    return {"timestamp": moment, "type": kind, "id": event_id,
            "previousEventId": event_id - 1}  # fmt: skip


def _stubbed_client():
    client = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client, Stubber(client)


def _add_closed_history(stubber: Stubber, arn: str) -> None:
    """Queue a history of three events for ``arn``, one page."""
    events = [
        _event(1, "ExecutionStarted", 0),
        _event(2, "WaitStateEntered", 0),
        _event(3, "ExecutionSucceeded", 1),
    ]
    stubber.add_response(
        "get_execution_history",
        {"events": events},
        {"executionArn": arn, "maxResults": PAGE_SIZE},
    )


@pytest.fixture(scope="module")
def machines(target):
    return deploy_machines(target)


@pytest.fixture(scope="module")
def closed_arns(target, machines):
    """Six executions of the kit's state machine, all closed."""
    arns = [start(target, machines.by_function_arn, due_in(0.5)) for _ in range(6)]
    wait_closed(target, arns)
    return arns


def _count_and_fail_after(client, calls: list[str], fail_after: int | None = None):
    """Record each GetExecutionHistory request's ARN; raise after ``fail_after``."""

    def record(params, **_):
        if fail_after is not None and len(calls) >= fail_after:
            raise RuntimeError("injected failure")
        calls.append(params["executionArn"])

    client.meta.events.register(
        "before-parameter-build.sfn.GetExecutionHistory", record
    )


# Paging, with botocore's Stubber because moto ignores maxResults.


def test_fetch_history_follows_next_token():
    client, stubber = _stubbed_client()
    first = [_event(1, "ExecutionStarted", 0), _event(2, "WaitStateEntered", 0)]
    second = [_event(3, "WaitStateExited", 5), _event(4, "ExecutionSucceeded", 6)]
    stubber.add_response(
        "get_execution_history",
        {"events": first, "nextToken": "page-2"},
        {"executionArn": ARN, "maxResults": PAGE_SIZE},
    )
    stubber.add_response(
        "get_execution_history",
        {"events": second},
        {"executionArn": ARN, "maxResults": PAGE_SIZE, "nextToken": "page-2"},
    )

    with stubber:
        events = fetch_history(client, ARN)

    assert [event["id"] for event in events] == [1, 2, 3, 4]
    stubber.assert_no_pending_responses()


def test_collect_histories_stores_paged_history(tmp_path):
    client, stubber = _stubbed_client()
    stubber.add_response(
        "get_execution_history",
        {"events": [_event(1, "ExecutionStarted", 0)], "nextToken": "next"},
        {"executionArn": ARN, "maxResults": PAGE_SIZE},
    )
    stubber.add_response(
        "get_execution_history",
        {"events": [_event(2, "ExecutionSucceeded", 3)]},
        {"executionArn": ARN, "maxResults": PAGE_SIZE, "nextToken": "next"},
    )
    path = tmp_path / HISTORIES_FILE

    with stubber:
        result = collect_histories(client, [ARN], path, progress=False)

    stored = read_histories(path)[ARN]
    assert result.fetched == 1
    assert stored.status == "SUCCEEDED"
    assert [event["timestamp"] for event in stored.events] == [
        "2026-08-28T15:00:00.000Z",
        "2026-08-28T15:00:03.000Z",
    ]


# Pacing with the token bucket.


def test_token_bucket_allows_burst_of_capacity():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, capacity=3, clock=clock, sleep=clock.sleep)

    waits = [bucket.acquire() for _ in range(3)]

    assert waits == [0.0, 0.0, 0.0]
    assert clock.sleeps == []


def test_token_bucket_paces_at_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, capacity=1, clock=clock, sleep=clock.sleep)

    for _ in range(5):
        bucket.acquire()

    assert clock.sleeps == [0.25, 0.25, 0.25, 0.25]
    assert clock.now == pytest.approx(1.0)


def test_token_bucket_refills_while_idle():
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, capacity=1, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    clock.now += 10.0

    assert bucket.acquire() == 0.0


def test_token_bucket_rejects_zero_rate():
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(rate=0)


def test_collect_histories_paces_requests(tmp_path):
    client, stubber = _stubbed_client()
    arns = [f"{ARN}-{index}" for index in range(4)]
    for arn in arns:
        _add_closed_history(stubber, arn)
    clock = FakeClock()

    with stubber:
        collect_histories(client, arns, tmp_path / HISTORIES_FILE, rate=2.0,
                          workers=1, progress=False, clock=clock,
                          sleep=clock.sleep)  # fmt: skip

    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_collect_histories_unpaced_without_rate(tmp_path):
    client, stubber = _stubbed_client()
    arns = [f"{ARN}-{index}" for index in range(3)]
    for arn in arns:
        _add_closed_history(stubber, arn)
    clock = FakeClock()

    with stubber:
        collect_histories(client, arns, None, rate=None, workers=1,
                          progress=False, clock=clock, sleep=clock.sleep)  # fmt: skip

    assert clock.sleeps == []


# Serialisation.


def test_format_timestamp_converts_to_utc():
    eastern = datetime(2026, 8, 28, 11, 0, 0, 250_000, timezone(timedelta(hours=-4)))

    assert format_timestamp(eastern) == "2026-08-28T15:00:00.250Z"


def test_format_timestamp_rejects_naive():
    with pytest.raises(ValueError, match="no time zone"):
        format_timestamp(datetime(2026, 8, 28, 15, 0))


def test_from_events_returns_none_while_running():
    events = [_event(1, "ExecutionStarted", 0), _event(2, "WaitStateEntered", 0)]

    assert ExecutionHistory.from_events(ARN, events) is None


def test_read_histories_skips_truncated_line(tmp_path):
    path = tmp_path / HISTORIES_FILE
    history = ExecutionHistory(ARN, "SUCCEEDED", [{"id": 1}])
    path.write_text(history.to_json() + "\n" + '{"executionArn": "arn:cut')

    assert list(read_histories(path)) == [ARN]


def test_collect_histories_appends_after_truncated_line(tmp_path):
    client, stubber = _stubbed_client()
    _add_closed_history(stubber, ARN)
    path = tmp_path / HISTORIES_FILE
    path.write_text('{"executionArn": "arn:cut')

    with stubber:
        collect_histories(client, [ARN], path, progress=False)

    lines = path.read_text().splitlines()
    assert lines[0] == '{"executionArn": "arn:cut'
    assert json.loads(lines[1])["executionArn"] == ARN


# Real collections on the local emulator.


def test_collect_histories_resumes_after_failure(target, closed_arns, tmp_path):
    path = tmp_path / HISTORIES_FILE
    interrupted = target.client("stepfunctions")
    first_calls: list[str] = []
    _count_and_fail_after(interrupted, first_calls, fail_after=3)

    with pytest.raises(RuntimeError, match="injected failure"):
        collect_histories(interrupted, closed_arns, path, workers=1, progress=False)

    resumed = target.client("stepfunctions")
    second_calls: list[str] = []
    _count_and_fail_after(resumed, second_calls)
    result = collect_histories(resumed, closed_arns, path, progress=False)

    assert len(first_calls) == 3
    assert sorted(second_calls) == sorted(set(closed_arns) - set(first_calls))
    assert result.fetched == 3
    assert result.reused == 3
    assert [h.execution_arn for h in result.histories] == closed_arns
    assert len(path.read_text().splitlines()) == 6


def test_collect_histories_fetches_nothing_when_complete(target, closed_arns, tmp_path):
    path = tmp_path / HISTORIES_FILE
    collect_histories(target.client("stepfunctions"), closed_arns, path,
                      progress=False)  # fmt: skip
    client = target.client("stepfunctions")
    calls: list[str] = []
    _count_and_fail_after(client, calls)

    result = collect_histories(client, closed_arns, path, progress=False)

    assert calls == []
    assert result.reused == 6


def test_collect_histories_keeps_running_out(target, machines, tmp_path):
    arn = start(target, machines.by_function_arn, due_in(3600))
    path = tmp_path / HISTORIES_FILE
    client = target.client("stepfunctions")

    running = collect_histories(client, [arn], path, progress=False)
    client.stop_execution(executionArn=arn)
    wait_closed(target, [arn])
    closed = collect_histories(client, [arn], path, progress=False)

    assert running.running == [arn]
    assert running.histories == []
    assert closed.fetched == 1
    assert closed.histories[0].status == "ABORTED"
    assert len(path.read_text().splitlines()) == 1


def test_collect_histories_reports_missing_execution(target, machines, tmp_path):
    missing = machines.by_function_arn.replace(":stateMachine:", ":execution:")
    missing += ":evt-does-not-exist"

    result = collect_histories(target.client("stepfunctions"), [missing],
                               tmp_path / HISTORIES_FILE, progress=False)  # fmt: skip

    assert result.missing == [missing]
    assert result.histories == []


def test_collect_histories_timestamps_are_utc_strings(target, closed_arns):
    result = collect_histories(target.client("stepfunctions"), closed_arns[:1],
                               progress=False)  # fmt: skip

    stamps = [event["timestamp"] for event in result.histories[0].events]
    assert all(stamp.endswith("Z") for stamp in stamps)
    assert result.histories[0].events[0]["type"] == "ExecutionStarted"


def test_collect_run_reads_events_csv(target, closed_arns, tmp_path):
    lines = ["id,dueDate,submittedAt,executionArn,status,overdue"]
    lines += [f"e{i},,,{arn},RUNNING,False" for i, arn in enumerate(closed_arns)]
    lines.append("rejected,,,,REJECTED,False")
    (tmp_path / "events.csv").write_text("\n".join(lines) + "\n")

    result = collect_run(target, tmp_path, progress=False)

    assert result.fetched == 6
    assert (tmp_path / HISTORIES_FILE).exists()


def test_collect_state_machine_selects_time_range(target, machines, tmp_path):
    before = datetime.now(UTC) - timedelta(seconds=1)
    arns = [start(target, machines.by_lambda_invoke, due_in(0.2)) for _ in range(2)]
    wait_closed(target, arns)

    result = collect_state_machine(target, machines.by_lambda_invoke, before,
                                   datetime.now(UTC) + timedelta(seconds=1),
                                   progress=False)  # fmt: skip
    empty = collect_state_machine(target, machines.by_lambda_invoke,
                                  before - timedelta(hours=1),
                                  before - timedelta(minutes=59),
                                  progress=False)  # fmt: skip

    assert sorted(h.execution_arn for h in result.histories) == sorted(arns)
    assert empty.histories == []


def test_collect_state_machine_rejects_naive_range(target, machines):
    with pytest.raises(ValueError, match="timezone-aware"):
        collect_state_machine(target, machines.by_function_arn,
                              datetime(2026, 1, 1), datetime(2026, 1, 2))  # fmt: skip
