"""One tidy table of execution histories, and the trigger latency metrics from it.

:func:`latency_table` turns histories into one row per execution with the
timestamps of the steps from the client's submission to the action's end.
:func:`latency_summary` computes count, mean, min, p50, p90, p99 and max in
milliseconds of each metric over the executions that fired as scheduled.

Lateness is the actual time minus the due date truncated to the second, the
``dueDateTruncated`` that the run records. Executions that failed, were
cancelled (ABORTED), timed out, or were already overdue when submitted stay
in the table with their ``category`` and are left out of the statistics.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.history import (
    HISTORIES_FILE,
    RUN_EVENTS_FILE,
    ExecutionHistory,
    read_histories,
    read_run_events,
    read_run_metadata,
)

logger = logging.getLogger(__name__)

TIMESTAMP_DTYPE = "datetime64[us, UTC]"

# Each history event type that the table keeps, and its column. A Task state
# that names the function's ARN writes LambdaFunction* events; one that uses
# the arn:aws:states:::lambda:invoke integration writes Task* events.
_FIRST_EVENT_COLUMNS = {
    "ExecutionStarted": "execution_started",
    "WaitStateEntered": "wait_entered",
    "WaitStateExited": "wait_exited",
    "TaskStateEntered": "task_entered",
    "LambdaFunctionScheduled": "lambda_scheduled",
    "TaskScheduled": "lambda_scheduled",
    "LambdaFunctionStarted": "lambda_started",
    "TaskStarted": "lambda_started",
}
_LAST_EVENT_COLUMNS = {
    "LambdaFunctionSucceeded": "lambda_succeeded",
    "TaskSucceeded": "lambda_succeeded",
    "LambdaFunctionFailed": "lambda_failed",
    "LambdaFunctionTimedOut": "lambda_failed",
    "LambdaFunctionStartFailed": "lambda_failed",
    "LambdaFunctionScheduleFailed": "lambda_failed",
    "TaskFailed": "lambda_failed",
    "TaskTimedOut": "lambda_failed",
    "TaskStartFailed": "lambda_failed",
    "TaskSubmitFailed": "lambda_failed",
    "ExecutionSucceeded": "execution_ended",
    "ExecutionFailed": "execution_ended",
    "ExecutionAborted": "execution_ended",
    "ExecutionTimedOut": "execution_ended",
}
_EVENT_COLUMNS = {**_FIRST_EVENT_COLUMNS, **_LAST_EVENT_COLUMNS}
EVENT_TIMESTAMP_COLUMNS = list(dict.fromkeys(_EVENT_COLUMNS.values()))
_COLUMN_CODES = {
    kind: EVENT_TIMESTAMP_COLUMNS.index(column)
    for kind, column in _EVENT_COLUMNS.items()
}
_SCHEDULED_TYPES = ("LambdaFunctionScheduled", "TaskScheduled")
_CLOSING_DETAILS = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
}

# Each metric: the later timestamp column minus the earlier one, in ms.
METRICS: dict[str, tuple[str, str]] = {
    "wait_exited_lateness_ms": ("wait_exited", "due_truncated"),
    "trigger_latency_ms": ("task_entered", "due_truncated"),
    "lambda_started_lateness_ms": ("lambda_started", "due_truncated"),
    "handler_lateness_ms": ("handler_time", "due_truncated"),
    "dispatch_ms": ("task_entered", "wait_exited"),
    "ingest_ms": ("execution_started", "submitted_at"),
}
HEADLINE_METRIC = "trigger_latency_ms"
SUMMARY_COLUMNS = ["count", "mean", "min", "p50", "p90", "p99", "max"]

MEASURED = "measured"
CATEGORIES = (MEASURED, "overdue", "failed", "aborted", "timed_out", "incomplete")


def latency_table(
    histories: Sequence[ExecutionHistory], run_events: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Build one row per execution with its timestamps, category and metrics.

    Parameters
    ----------
    histories:
        Closed histories, as :func:`helpers.history.collect_histories` returns.
    run_events:
        The run's ``events.csv`` (columns ``id``, ``executionArn``,
        ``submittedAt`` and ``overdue`` are used when present), to add the
        client's submission time and event id. Without it, the id is the
        execution name and there is no submission time.

    Every timestamp column is timezone-aware UTC, whatever the process's zone.
    For a Lambda function retried after failures, ``lambda_scheduled`` and
    ``lambda_started`` are those of the first attempt and ``attempts`` counts
    them all.
    """
    events, details = _flatten(histories)
    table = details.join(_event_timestamps(events, len(details)))
    table["attempts"] = _attempt_counts(events, len(details))
    table = _add_due_dates(table)
    table = _add_handler_times(table)
    table = _add_run_events(table, run_events)
    table["category"] = _categorize(table)
    table["included"] = table["category"] == MEASURED
    table = _add_metrics(table)
    return table[_column_order(table)]


def _flatten(
    histories: Sequence[ExecutionHistory],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split histories into a long frame of events and a frame of per-run details."""
    positions: list[int] = []
    types: list[str] = []
    stamps: list[str] = []
    details: list[dict[str, Any]] = []
    for position, history in enumerate(histories):
        detail = _empty_detail(history)
        kinds = [event["type"] for event in history.events]
        types.extend(kinds)
        stamps.extend([event["timestamp"] for event in history.events])
        positions.extend([position] * len(kinds))
        for kind, event in zip(kinds, history.events, strict=True):
            if kind in _DETAIL_TYPES:
                _read_detail(event, detail)
        details.append(detail)
    events = pd.DataFrame(
        {
            "position": np.asarray(positions, dtype=np.int64),
            "type": pd.Series(types, dtype="string"),
            "timestamp": pd.to_datetime(pd.Series(stamps, dtype="string"),
                                        utc=True, format="ISO8601"),
        }
    )  # fmt: skip
    return events, pd.DataFrame.from_records(details, columns=_DETAIL_COLUMNS)


_DETAIL_TYPES = frozenset(
    {"ExecutionStarted", "LambdaFunctionScheduled", "TaskScheduled",
     "LambdaFunctionSucceeded", "TaskSucceeded", *_CLOSING_DETAILS}
)  # fmt: skip
_DETAIL_COLUMNS = [
    "execution_arn", "name", "status", "integration", "input", "lambda_output",
    "error", "cause",
]  # fmt: skip


def _empty_detail(history: ExecutionHistory) -> dict[str, Any]:
    return {
        "execution_arn": history.execution_arn,
        "name": history.execution_arn.rpartition(":")[2],
        "status": history.status,
        "integration": None,
        "input": None,
        "lambda_output": None,
        "error": None,
        "cause": None,
    }


def _read_detail(event: dict[str, Any], detail: dict[str, Any]) -> None:
    """Copy what the table needs from one event's details into ``detail``."""
    kind = event["type"]
    if kind == "ExecutionStarted":
        detail["input"] = event.get("executionStartedEventDetails", {}).get("input")
    elif kind == "LambdaFunctionScheduled":
        detail["integration"] = "function-arn"
    elif kind == "TaskScheduled":
        detail["integration"] = "lambda:invoke"
    elif kind in ("LambdaFunctionSucceeded", "TaskSucceeded"):
        key = "lambdaFunctionSucceededEventDetails"
        if kind == "TaskSucceeded":
            key = "taskSucceededEventDetails"
        detail["lambda_output"] = event.get(key, {}).get("output")
    elif kind in _CLOSING_DETAILS:
        closing = event.get(_CLOSING_DETAILS[kind], {})
        detail["error"] = closing.get("error") or None  # moto writes "" when unset
        detail["cause"] = closing.get("cause") or None


def _event_timestamps(events: pd.DataFrame, count: int) -> pd.DataFrame:
    """Spread the events to one timestamp column per step, first or last occurrence."""
    codes = events["type"].map(_COLUMN_CODES)
    keyed = events.assign(code=codes).dropna(subset=["code"])
    keyed["code"] = keyed["code"].astype(np.int64)
    is_first = keyed["type"].isin(list(_FIRST_EVENT_COLUMNS))
    first = keyed[is_first].drop_duplicates(["position", "code"], keep="first")
    last = keyed[~is_first].drop_duplicates(["position", "code"], keep="last")
    chosen = pd.concat([first, last])

    nanoseconds = chosen["timestamp"].dt.as_unit("ns").astype(np.int64).to_numpy()
    grid = np.full((count, len(EVENT_TIMESTAMP_COLUMNS)), np.iinfo(np.int64).min)
    grid[chosen["position"].to_numpy(), chosen["code"].to_numpy()] = nanoseconds
    wide = pd.DataFrame(
        {
            column: pd.to_datetime(grid[:, code], utc=True, unit="ns")
            for code, column in enumerate(EVENT_TIMESTAMP_COLUMNS)
        }
    )
    return wide.astype(TIMESTAMP_DTYPE)


def _attempt_counts(events: pd.DataFrame, count: int) -> pd.Series:
    scheduled = events.loc[events["type"].isin(_SCHEDULED_TYPES), "position"]
    return scheduled.value_counts().reindex(range(count), fill_value=0).astype(int)


def _add_due_dates(table: pd.DataFrame) -> pd.DataFrame:
    """Add the due date as sent, parsed, and truncated to the second."""
    table["due_date"] = pd.Series(
        [_json_field(text, "dueDate") for text in table["input"]],
        index=table.index,
        dtype="string",
    )
    due = pd.to_datetime(table["due_date"], utc=True, format="ISO8601", errors="coerce")
    table["due"] = due.astype(TIMESTAMP_DTYPE)
    table["due_truncated"] = table["due"].dt.floor("s")
    return table


def _add_handler_times(table: pd.DataFrame) -> pd.DataFrame:
    """Add the handler's own clock reading, present when the handler really ran.

    The handler returns ``handlerTime``. The ``lambda:invoke`` integration
    wraps that result in ``Payload``. On the local emulator the output echoes
    the input, so the column stays empty.
    """
    readings = [_handler_time(text) for text in table["lambda_output"]]
    parsed = pd.to_datetime(
        pd.Series(readings, index=table.index, dtype="string"),
        utc=True,
        format="ISO8601",
        errors="coerce",
    )
    table["handler_time"] = parsed.astype(TIMESTAMP_DTYPE)
    return table


def _json_field(text: str | None, name: str) -> str | None:
    value = _json_object(text).get(name)
    return value if isinstance(value, str) else None


def _handler_time(text: str | None) -> str | None:
    output = _json_object(text)
    payload = output.get("Payload")
    if isinstance(payload, dict):
        output = payload
    value = output.get("handlerTime")
    return value if isinstance(value, str) else None


def _json_object(text: str | None) -> dict[str, Any]:
    """Parse a JSON object from an event's input or output; {} if it is not one."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _add_run_events(
    table: pd.DataFrame, run_events: pd.DataFrame | None
) -> pd.DataFrame:
    """Add the event id, the client's submission time and its overdue flag."""
    run = _run_columns(run_events)
    merged = table.merge(run, how="left", on="execution_arn", validate="one_to_one")
    merged["id"] = merged["id"].fillna(merged.pop("name")).astype("string")
    merged["submitted_at"] = merged["submitted_at"].astype(TIMESTAMP_DTYPE)
    merged["overdue_at_submission"] = merged["overdue_at_submission"].fillna(False)
    return merged


def _run_columns(run_events: pd.DataFrame | None) -> pd.DataFrame:
    """Select one row per execution from ``events.csv``: its first submission."""
    columns = ["execution_arn", "id", "submitted_at", "overdue_at_submission"]
    if run_events is None or "executionArn" not in run_events:
        return pd.DataFrame(columns=columns).astype(
            {"execution_arn": "string", "id": "string", "submitted_at": TIMESTAMP_DTYPE,
             "overdue_at_submission": bool}
        )  # fmt: skip
    run = pd.DataFrame({"execution_arn": run_events["executionArn"].astype("string")})
    run["id"] = run_events.get("id", pd.Series(pd.NA, index=run.index)).astype("string")
    submitted = run_events.get("submittedAt", pd.Series(pd.NA, index=run.index))
    run["submitted_at"] = pd.to_datetime(
        submitted, utc=True, format="ISO8601", errors="coerce"
    ).astype(TIMESTAMP_DTYPE)
    overdue = run_events.get("overdue", pd.Series(False, index=run.index))
    run["overdue_at_submission"] = overdue.map(_as_bool).astype(bool)
    run = run.dropna(subset=["execution_arn"]).sort_values("submitted_at")
    return run.drop_duplicates("execution_arn", keep="first")


def _as_bool(value: Any) -> bool:
    """Read a CSV cell as a boolean: True, "True", "true" and 1 are true."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) if pd.notna(value) else False


def _categorize(table: pd.DataFrame) -> np.ndarray:
    """Label each execution; only ``measured`` ones enter the statistics.

    An execution is overdue when the run's ``overdue`` flag is set, or when
    its due date was already past at submission (at ExecutionStarted when the
    run has no submission time). Such an execution fires at once instead of at
    its due time.
    """
    reference = table["submitted_at"].fillna(table["execution_started"])
    overdue = table["overdue_at_submission"] | (table["due"] < reference).fillna(False)
    status = table["status"]
    conditions = [
        status == "FAILED",
        status == "ABORTED",
        status == "TIMED_OUT",
        overdue,
        table["task_entered"].isna() | table["due"].isna(),
    ]
    choices = ["failed", "aborted", "timed_out", "overdue", "incomplete"]
    return np.select(conditions, choices, default=MEASURED)


def _add_metrics(table: pd.DataFrame) -> pd.DataFrame:
    """Add each metric in milliseconds, and the lead time in seconds."""
    one_ms = pd.Timedelta(milliseconds=1)
    for metric, (later, earlier) in METRICS.items():
        table[metric] = (table[later] - table[earlier]) / one_ms
    reference = table["submitted_at"].fillna(table["execution_started"])
    table["lead_time_s"] = (table["due"] - reference) / pd.Timedelta(seconds=1)
    return table


_LEADING_COLUMNS = [
    "id", "execution_arn", "status", "category", "included", "integration",
    "attempts", "due_date", "due", "due_truncated", "submitted_at",
]  # fmt: skip


def _column_order(table: pd.DataFrame) -> list[str]:
    trailing = ["handler_time", "error", "cause", *METRICS, "lead_time_s"]
    return [*_LEADING_COLUMNS, *EVENT_TIMESTAMP_COLUMNS, *trailing]


def latency_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Summarise each metric over the included executions, in milliseconds.

    Returns one row per metric (the index) with the columns count, mean, min,
    p50, p90, p99 and max. Percentiles interpolate linearly between ranks
    (pandas' default). A metric with no values has count 0 and NaN elsewhere.
    """
    values = table.loc[table["included"], list(METRICS)].astype(float)
    summary = pd.DataFrame(
        {
            "count": values.count(),
            "mean": values.mean(),
            "min": values.min(),
            "p50": values.quantile(0.5),
            "p90": values.quantile(0.9),
            "p99": values.quantile(0.99),
            "max": values.max(),
        }
    )
    summary.index.name = "metric"
    return summary


def category_counts(table: pd.DataFrame) -> pd.Series:
    """Count the executions of each category, listing every category."""
    return table["category"].value_counts().reindex(list(CATEGORIES), fill_value=0)


def load_run_table(run_dir: Path) -> pd.DataFrame:
    """Build the latency table of a saved run from its histories and events files."""
    run_dir = Path(run_dir)
    histories = read_histories(run_dir / HISTORIES_FILE)
    if not histories:
        raise FileNotFoundError(
            f"no histories in {run_dir / HISTORIES_FILE}: collect them first with "
            "helpers.collect_run(target, run_dir)"
        )
    events_path = run_dir / RUN_EVENTS_FILE
    run_events = read_run_events(run_dir) if events_path.exists() else None
    return latency_table(list(histories.values()), run_events)


def summarize_run(run_dir: Path) -> tuple[pd.DataFrame, list[Path]]:
    """Summarise a collected run and save its figures under ``run_dir``.

    Returns the latency summary (see :func:`latency_summary`) and the paths
    of the PNG files written. The run must have been collected already.
    """
    from helpers.plots import save_run_figures

    run_dir = Path(run_dir)
    table = load_run_table(run_dir)
    # helpers.events.save_run stores Target.description under "target".
    target = read_run_metadata(run_dir).get("target", "unknown target")
    paths = save_run_figures(table, run_dir, target)
    return latency_summary(table), paths
