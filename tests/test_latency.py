"""The latency table from histories of every shape, its metrics and time zones."""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import pytest
from realruns import deploy_machines, due_in, start, wait_closed

from helpers.history import HISTORIES_FILE, ExecutionHistory, collect_histories
from helpers.latency import (
    EVENT_TIMESTAMP_COLUMNS,
    METRICS,
    SUMMARY_COLUMNS,
    category_counts,
    latency_summary,
    latency_table,
    load_run_table,
)
from helpers.synthetic import SHAPES, synthetic_run

PREFIX = "arn:aws:states:us-east-1:123456789012:execution:scheduler:"
DUE = "2026-08-28T15:00:00.250Z"


def _history(name: str, status: str, steps: list[tuple], due: str = DUE):
    """Build a history from (type, "SS.fff" seconds after 15:00, details) steps."""
    events = []
    for number, (kind, second, *details) in enumerate(steps, start=1):
        event = {
            "timestamp": f"2026-08-28T15:00:{second}Z",
            "type": kind,
            "id": number,
            "previousEventId": number - 1,
        }
        if kind == "ExecutionStarted":
            payload = json.dumps({"dueDate": due, "data": {}})
            event["executionStartedEventDetails"] = {"input": payload}
        if details:
            event.update(details[0])
        events.append(event)
    return ExecutionHistory(PREFIX + name, status, events)


def _succeeded(name: str, wait_exit: str, *, due: str = DUE, started="00.100"):
    """A history that waited from ``started`` and exited the wait at ``wait_exit``."""
    return _history(
        name,
        "SUCCEEDED",
        [
            ("ExecutionStarted", started),
            ("WaitStateEntered", started),
            ("WaitStateExited", wait_exit),
            ("TaskStateEntered", wait_exit),
            ("LambdaFunctionScheduled", wait_exit),
            ("LambdaFunctionStarted", wait_exit),
            ("LambdaFunctionSucceeded", wait_exit, {
                "lambdaFunctionSucceededEventDetails": {"output": "{}"}}),
            ("TaskStateExited", wait_exit),
            ("ExecutionSucceeded", wait_exit),
        ],
        due=due,
    )  # fmt: skip


def _row(table: pd.DataFrame, name: str) -> pd.Series:
    return table.set_index("id").loc[name]


# Real histories from the local emulator.


@pytest.fixture(scope="module")
def real_histories(target):
    """Map each shape to a real closed history from the local emulator."""
    machines = deploy_machines(target)
    client = target.client("stepfunctions")
    arns = {
        "succeeded": start(target, machines.by_function_arn, due_in(1.5)),
        "bad_timestamp": start(target, machines.by_function_arn, "not-a-date"),
        "aborted": start(target, machines.by_function_arn, due_in(3600)),
        "invoke": start(target, machines.by_lambda_invoke, due_in(1.5)),
    }
    client.stop_execution(executionArn=arns["aborted"], error="Cancelled",
                          cause="cancelled by the test")  # fmt: skip
    wait_closed(target, list(arns.values()))
    result = collect_histories(client, list(arns.values()), progress=False)
    by_arn = {history.execution_arn: history for history in result.histories}
    return {shape: by_arn[arn] for shape, arn in arns.items()}


@pytest.fixture(scope="module")
def real_table(real_histories):
    table = latency_table(list(real_histories.values()))
    names = {h.execution_arn: shape for shape, h in real_histories.items()}
    return table.set_index(table["execution_arn"].map(names))


def test_table_real_succeeded_is_measured(real_table):
    row = real_table.loc["succeeded"]

    assert row["category"] == "measured"
    assert row["integration"] == "function-arn"
    assert row["attempts"] == 1
    for column in EVENT_TIMESTAMP_COLUMNS:
        if column != "lambda_failed":
            assert pd.notna(row[column]), column


def test_table_real_succeeded_fires_within_emulator_rounding(real_table):
    lateness = real_table.loc["succeeded", "wait_exited_lateness_ms"]

    assert -1000 <= lateness <= 1000


def test_table_real_handler_time_absent_on_emulator(real_table):
    assert pd.isna(real_table.loc["succeeded", "handler_time"])


def test_table_real_bad_timestamp_failed_at_wait(real_table):
    row = real_table.loc["bad_timestamp"]

    assert row["category"] == "failed"
    assert row["error"] == "States.Runtime"
    assert "TimestampPath" in row["cause"]
    assert pd.isna(row["wait_exited"])
    assert pd.isna(row["due"])
    assert row["due_date"] == "not-a-date"


def test_table_real_aborted_during_wait(real_table):
    row = real_table.loc["aborted"]

    assert row["category"] == "aborted"
    # moto 5.2.5 writes an empty error and cause whatever StopExecution passed.
    assert pd.isna(row["error"])
    assert pd.isna(row["wait_exited"])
    assert pd.notna(row["execution_ended"])


def test_table_real_lambda_invoke_task_events(real_table):
    row = real_table.loc["invoke"]

    assert row["integration"] == "lambda:invoke"
    assert row["category"] == "measured"
    assert pd.notna(row["lambda_scheduled"])
    assert pd.notna(row["lambda_started"])
    assert pd.notna(row["lambda_succeeded"])


def test_table_real_excluded_rows_stay(real_table):
    assert len(real_table) == 4
    assert real_table["included"].sum() == 2


# Shapes written by hand: the emulator cannot produce them.


def test_table_lambda_failed_by_hand():
    # moto 5.2.5 runs Lambda without Docker as an echo that always succeeds,
    # even for a function that does not exist, so this history is written by hand.
    failure = {"error": "ValueError", "cause": '{"errorMessage": "boom"}'}
    history = _history("failed", "FAILED", [
        ("ExecutionStarted", "00.100"),
        ("WaitStateEntered", "00.100"),
        ("WaitStateExited", "00.010"),
        ("TaskStateEntered", "00.011"),
        ("LambdaFunctionScheduled", "00.012"),
        ("LambdaFunctionStarted", "00.030"),
        ("LambdaFunctionFailed", "00.080",
         {"lambdaFunctionFailedEventDetails": failure}),
        ("ExecutionFailed", "00.081", {"executionFailedEventDetails": failure}),
    ])  # fmt: skip

    row = _row(latency_table([history]), "failed")

    assert row["category"] == "failed"
    assert row["error"] == "ValueError"
    assert row["lambda_failed"] == pd.Timestamp("2026-08-28T15:00:00.080Z")
    assert not row["included"]


def test_table_retried_lambda_uses_first_start():
    failure = {"error": "Lambda.ServiceException", "cause": "Rate exceeded"}
    history = _history("retried", "SUCCEEDED", [
        ("ExecutionStarted", "00.100"),
        ("WaitStateEntered", "00.100"),
        ("WaitStateExited", "00.020"),
        ("TaskStateEntered", "00.021"),
        ("LambdaFunctionScheduled", "00.022"),
        ("LambdaFunctionStarted", "00.040"),
        ("LambdaFunctionFailed", "00.050",
         {"lambdaFunctionFailedEventDetails": failure}),
        ("LambdaFunctionScheduled", "01.050"),
        ("LambdaFunctionStarted", "01.060"),
        ("LambdaFunctionFailed", "01.070",
         {"lambdaFunctionFailedEventDetails": failure}),
        ("LambdaFunctionScheduled", "03.070"),
        ("LambdaFunctionStarted", "03.080"),
        ("LambdaFunctionSucceeded", "03.090",
         {"lambdaFunctionSucceededEventDetails": {"output": "{}"}}),
        ("TaskStateExited", "03.091"),
        ("ExecutionSucceeded", "03.091"),
    ])  # fmt: skip

    row = _row(latency_table([history]), "retried")

    assert row["attempts"] == 3
    assert row["lambda_started_lateness_ms"] == 40.0
    assert row["lambda_succeeded"] == pd.Timestamp("2026-08-28T15:00:03.090Z")
    assert row["lambda_failed"] == pd.Timestamp("2026-08-28T15:00:01.070Z")
    assert row["category"] == "measured"


def test_table_lambda_invoke_failed_by_hand():
    details = {"resourceType": "lambda", "resource": "invoke"}
    failure = {**details, "error": "Lambda.Unknown", "cause": "unknown"}
    history = _history("invoke-failed", "FAILED", [
        ("ExecutionStarted", "00.100"),
        ("WaitStateEntered", "00.100"),
        ("WaitStateExited", "00.005"),
        ("TaskStateEntered", "00.006"),
        ("TaskScheduled", "00.007", {"taskScheduledEventDetails": details}),
        ("TaskStarted", "00.009", {"taskStartedEventDetails": details}),
        ("TaskFailed", "00.020", {"taskFailedEventDetails": failure}),
        ("ExecutionFailed", "00.021", {"executionFailedEventDetails": {
            "error": "Lambda.Unknown", "cause": "unknown"}}),
    ])  # fmt: skip

    row = _row(latency_table([history]), "invoke-failed")

    assert row["integration"] == "lambda:invoke"
    assert row["attempts"] == 1
    assert row["lambda_failed"] == pd.Timestamp("2026-08-28T15:00:00.020Z")
    assert row["category"] == "failed"


def test_table_reads_handler_time_from_invoke_payload():
    output = json.dumps(
        {"StatusCode": 200, "Payload": {"handlerTime": "2026-08-28T15:00:00.042123Z"}}
    )
    history = _history("invoke", "SUCCEEDED", [
        ("ExecutionStarted", "00.100"),
        ("WaitStateEntered", "00.100"),
        ("WaitStateExited", "00.005"),
        ("TaskStateEntered", "00.006"),
        ("TaskScheduled", "00.007"),
        ("TaskStarted", "00.009"),
        ("TaskSucceeded", "00.050", {"taskSucceededEventDetails": {"output": output}}),
        ("ExecutionSucceeded", "00.051"),
    ])  # fmt: skip

    row = _row(latency_table([history]), "invoke")

    assert row["handler_lateness_ms"] == pytest.approx(42.123)


def test_table_reads_handler_time_from_function_output():
    output = json.dumps({"handlerTime": "2026-08-28T15:00:00.031000Z"})
    history = _history("arn", "SUCCEEDED", [
        ("ExecutionStarted", "00.100"),
        ("WaitStateEntered", "00.100"),
        ("WaitStateExited", "00.005"),
        ("TaskStateEntered", "00.006"),
        ("LambdaFunctionScheduled", "00.007"),
        ("LambdaFunctionStarted", "00.009"),
        ("LambdaFunctionSucceeded", "00.050",
         {"lambdaFunctionSucceededEventDetails": {"output": output}}),
        ("ExecutionSucceeded", "00.051"),
    ])  # fmt: skip

    row = _row(latency_table([history]), "arn")

    assert row["handler_lateness_ms"] == 31.0


def test_table_marks_overdue_from_run_flag():
    history = _succeeded("late", "00.110")
    run_events = pd.DataFrame({"id": ["late"], "executionArn": [PREFIX + "late"],
                               "submittedAt": ["2026-08-28T14:59:59.000Z"],
                               "overdue": ["True"]})  # fmt: skip

    row = _row(latency_table([history], run_events), "late")

    assert row["category"] == "overdue"
    assert not row["included"]


def test_table_marks_overdue_due_before_start():
    history = _succeeded("late", "00.110", due="2026-08-28T14:59:00Z")

    assert _row(latency_table([history]), "late")["category"] == "overdue"


def test_table_ingest_from_submission():
    history = _succeeded("e1", "00.010", started="00.100")
    run_events = pd.DataFrame({"id": ["e1"], "executionArn": [PREFIX + "e1"],
                               "submittedAt": ["2026-08-28T15:00:00.060Z"],
                               "overdue": [False]})  # fmt: skip

    row = _row(latency_table([history], run_events), "e1")

    assert row["ingest_ms"] == 40.0
    assert row["lead_time_s"] == pytest.approx(0.19)


def test_table_keeps_first_of_duplicate_submissions():
    history = _succeeded("e1", "00.010", started="00.100")
    run_events = pd.DataFrame({
        "id": ["e1", "e1"],
        "executionArn": [PREFIX + "e1", PREFIX + "e1"],
        "submittedAt": ["2026-08-28T15:00:00.080Z", "2026-08-28T15:00:00.060Z"],
    })  # fmt: skip

    table = latency_table([history], run_events)

    assert len(table) == 1
    assert table["ingest_ms"].iloc[0] == 40.0


def test_table_without_run_uses_execution_name():
    table = latency_table([_succeeded("evt-7", "00.010")])

    assert table["id"].tolist() == ["evt-7"]
    assert table["submitted_at"].isna().all()
    assert table["ingest_ms"].isna().all()


def test_table_timestamps_are_utc():
    table = latency_table([_succeeded("e1", "00.010")])

    for column in [*EVENT_TIMESTAMP_COLUMNS, "due", "due_truncated", "handler_time"]:
        assert str(table[column].dt.tz) == "UTC", column


def test_table_truncates_due_to_second():
    row = _row(latency_table([_succeeded("e1", "00.010")]), "e1")

    assert row["due_truncated"] == pd.Timestamp("2026-08-28T15:00:00Z")
    assert row["wait_exited_lateness_ms"] == 10.0


# Metrics with known numbers.


@pytest.fixture
def five_known():
    """Five executions whose wait ended 10, 20, 30, 40 and 50 ms after 15:00:00."""
    return latency_table(
        [_succeeded(f"e{ms}", f"00.0{ms}") for ms in (10, 20, 30, 40, 50)]
    )


def test_summary_known_lateness(five_known):
    summary = latency_summary(five_known).loc["wait_exited_lateness_ms"]

    assert summary["count"] == 5
    assert summary["mean"] == 30.0
    assert summary["min"] == 10.0
    assert summary["p50"] == 30.0
    assert summary["p90"] == pytest.approx(46.0)
    assert summary["p99"] == pytest.approx(49.6)
    assert summary["max"] == 50.0


def test_summary_known_dispatch(five_known):
    assert latency_summary(five_known).loc["dispatch_ms", "max"] == 0.0


def test_summary_columns_and_metrics(five_known):
    summary = latency_summary(five_known)

    assert list(summary.columns) == SUMMARY_COLUMNS
    assert list(summary.index) == list(METRICS)


def test_summary_excludes_failed_and_overdue(five_known):
    overdue = _succeeded("old", "00.900", due="2026-08-28T14:00:00Z")
    table = pd.concat([five_known, latency_table([overdue])], ignore_index=True)

    summary = latency_summary(table).loc["wait_exited_lateness_ms"]

    assert summary["count"] == 5
    assert summary["max"] == 50.0


def test_summary_empty_metric_has_zero_count(five_known):
    summary = latency_summary(five_known)

    assert summary.loc["handler_lateness_ms", "count"] == 0
    assert pd.isna(summary.loc["handler_lateness_ms", "mean"])


def test_category_counts_lists_every_category(five_known):
    counts = category_counts(five_known)

    assert counts["measured"] == 5
    assert counts["aborted"] == 0


# Time zones: the table must not depend on the process's zone.


@pytest.fixture
def new_york_zone():
    """Run the test with the process in America/New_York, then restore the zone."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


def test_table_same_in_new_york_for_synthetic(new_york_zone):
    run = synthetic_run(200, seed=5)
    in_new_york = latency_table(run.histories, run.run_events)
    os.environ["TZ"] = "UTC"
    time.tzset()

    in_utc = latency_table(run.histories, run.run_events)

    pd.testing.assert_frame_equal(in_new_york, in_utc)


def test_collection_same_in_new_york(target, real_histories, new_york_zone, tmp_path):
    assert time.localtime().tm_gmtoff != 0  # the zone really changed
    arns = [history.execution_arn for history in real_histories.values()]
    result = collect_histories(target.client("stepfunctions"), arns,
                               tmp_path / HISTORIES_FILE, progress=False)  # fmt: skip

    in_new_york = latency_table(result.histories)
    in_utc = latency_table(list(real_histories.values()))

    pd.testing.assert_frame_equal(in_new_york, in_utc)
    pd.testing.assert_frame_equal(latency_summary(in_new_york),
                                  latency_summary(in_utc))  # fmt: skip


# Synthetic histories.


def test_synthetic_run_has_every_shape():
    run = synthetic_run(2000, seed=1)

    assert set(run.shapes) == set(SHAPES)
    assert len(run.histories) == 2000
    assert len(run.run_events) == 2000


def test_synthetic_run_categories_match_shapes():
    run = synthetic_run(2000, seed=2)
    table = latency_table(run.histories, run.run_events)
    expected = {
        "succeeded": "measured", "invoke_succeeded": "measured",
        "retried": "measured", "lambda_failed": "failed",
        "bad_timestamp": "failed", "aborted": "aborted", "overdue": "overdue",
    }  # fmt: skip

    for shape, category in zip(run.shapes, table["category"], strict=True):
        assert expected[shape] == category, shape


def test_synthetic_run_is_reproducible():
    first = synthetic_run(50, seed=9)
    second = synthetic_run(50, seed=9)

    assert first.histories == second.histories


def test_load_run_table_reads_run_directory(tmp_path):
    run = synthetic_run(30, seed=4)
    lines = [history.to_json() for history in run.histories]
    (tmp_path / HISTORIES_FILE).write_text("\n".join(lines) + "\n")
    run.run_events.to_csv(tmp_path / "events.csv", index=False)

    loaded = load_run_table(tmp_path)

    pd.testing.assert_frame_equal(loaded, latency_table(run.histories, run.run_events))


def test_load_run_table_without_histories_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="collect them first"):
        load_run_table(tmp_path)
