"""Fire, inspect, cancel and reschedule events through the REST API over HTTP.

Every request is signed with SigV4 and sent to the stack's endpoint: the
local gateway or execute-api on AWS. :func:`fire_batch` fires many events
with bounded concurrency and retries throttling without ever starting an
event twice, and :func:`save_run` keeps a batch under ``results/<run-id>/``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm

from helpers import signing, validation
from helpers.emulator import REPO_ROOT
from helpers.history import TokenBucket
from helpers.stack import StackOutputs
from helpers.target import Target

logger = logging.getLogger(__name__)

RESULTS_DIR = REPO_ROOT / "results"
REQUEST_TIMEOUT_S = 35.0  # API Gateway's 29 s integration timeout, plus margin

# Each GET /events/{id} is one DescribeExecution, whose token bucket AWS
# refills at 10 requests per second outside us-east-1, us-west-2 and eu-west-1
# (15 there), so polling on AWS is paced at 8 per second in every region.
AWS_DESCRIBE_REQUESTS_PER_SECOND = 8.0

# Throttling and 5xx are retried. 6 attempts wait at most 0.25 + 0.5 + 1 + 2 + 4
# = 7.75 s in total before the last one, with jitter lowering each wait.
MAX_ATTEMPTS = 6
BASE_DELAY_S = 0.25
MAX_DELAY_S = 4.0

BATCH_COLUMNS = [
    "id", "dueDate", "dueDateTruncated", "submittedAt", "executionArn",
    "outcome", "httpStatus", "attempts", "error", "overdue", "notes",
]  # fmt: skip


class EventError(RuntimeError):
    """The API rejected a request; ``status`` and ``body`` hold its response."""

    def __init__(self, message: str, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def field(self) -> str | None:
        return self.body.get("field") if isinstance(self.body, dict) else None


class EventNotFoundError(EventError):
    """No event has this id (HTTP 404)."""


class EventConflictError(EventError):
    """The id is taken by an event with another body, or a finished one (HTTP 409)."""


# --- the endpoint ----------------------------------------------------------------


@dataclass
class Endpoint:
    """The stage URL of a deployed stack and a signed, pooled HTTP session.

    ``sleep`` waits between retries; tests replace it to run without waiting.
    """

    url: str
    target: Target
    session: requests.Session
    sleep: Callable[[float], None] = time.sleep

    @property
    def events_url(self) -> str:
        return f"{self.url}/events"


def make_endpoint(target: Target, stack: StackOutputs, pool_size: int = 32) -> Endpoint:
    """Open a session that signs every request with the target's credentials.

    ``pool_size`` caps the connections kept open to the endpoint; make it at
    least the concurrency of :func:`fire_batch`.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.auth = signing.request_auth(target)
    session.headers["Content-Type"] = "application/json"
    return Endpoint(stack.endpoint_url, target, session)


# --- retries ---------------------------------------------------------------------


def is_retryable(response: requests.Response) -> bool:
    """Tell whether a response is throttling (429, ThrottlingException) or a 5xx."""
    if response.status_code == 429 or response.status_code >= 500:
        return True
    return "ThrottlingException" in response.headers.get("x-amzn-ErrorType", "")


def _should_retry(response: requests.Response, retry_ambiguous: bool) -> bool:
    if response.status_code == 429:
        return True
    return retry_ambiguous and is_retryable(response)


def _equal_jitter(delay: float) -> float:
    """Wait between half and all of ``delay``, so retrying clients spread out."""
    return random.uniform(delay / 2, delay)


def send_with_retry(
    send: Callable[[], requests.Response],
    *,
    retry_ambiguous: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[float], float] = _equal_jitter,
) -> tuple[requests.Response, int]:
    """Call ``send`` until it is not throttled; return the response and attempts.

    ``send`` must repeat the same request (same id, same body), so that a
    retry of a request that did start an execution returns that execution.
    With ``retry_ambiguous=False`` only 429, which starts nothing, is
    retried; connection errors and 5xx, which may have started an execution,
    are not.
    """
    for attempt in range(1, max_attempts + 1):
        try:
            response = send()
        except requests.ConnectionError as error:
            if not retry_ambiguous or attempt == max_attempts:
                raise
            logger.warning("attempt %d failed: %s; retrying", attempt, error)
        else:
            if not _should_retry(response, retry_ambiguous) or attempt == max_attempts:
                return response, attempt
            logger.info(
                "attempt %d returned HTTP %d; retrying", attempt, response.status_code
            )
        sleep(jitter(min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempt - 1))))
    raise AssertionError("unreachable")


# --- one event -------------------------------------------------------------------


@dataclass
class FiredEvent:
    """A scheduled event as the API accepted it, with the client's notes."""

    id: str
    execution_arn: str
    due_date: str
    due_date_truncated: str
    submitted_at: datetime
    overdue: bool
    notes: list[str] = field(default_factory=list)
    attempts: int = 1


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _raise_for_answer(response: requests.Response, what: str) -> Any:
    """Return the JSON body of a 2xx response; raise the matching EventError."""
    body = _json_or_text(response)
    if response.ok:
        return body
    message = body.get("message", body) if isinstance(body, dict) else body
    text = f"{what} failed with HTTP {response.status_code}: {message}"
    if response.status_code == 404:
        raise EventNotFoundError(text, response.status_code, body)
    if response.status_code == 409:
        raise EventConflictError(text, response.status_code, body)
    raise EventError(text, response.status_code, body)


def post_event(endpoint: Endpoint, body_text: str) -> requests.Response:
    """POST a body as it is, without client-side checks; return the response."""
    return endpoint.session.post(
        endpoint.events_url, data=body_text.encode("utf-8"), timeout=REQUEST_TIMEOUT_S
    )


def _submit(endpoint: Endpoint, checked: validation.CheckedEvent) -> FiredEvent:
    submitted_at = datetime.now(UTC)
    response, attempts = send_with_retry(
        lambda: post_event(endpoint, checked.body_text),
        retry_ambiguous=checked.id is not None,
        sleep=endpoint.sleep,
    )
    answer = _raise_for_answer(response, "POST /events")
    return FiredEvent(
        id=answer["id"],
        execution_arn=answer["executionArn"],
        due_date=checked.due_date,
        due_date_truncated=checked.due_date_truncated,
        submitted_at=submitted_at,
        overdue=checked.overdue,
        notes=list(checked.notes),
        attempts=attempts,
    )


def fire_event(
    endpoint: Endpoint,
    due_date: datetime | str,
    data: Any = None,
    id: str | None = None,
) -> FiredEvent:
    """Check an event, then schedule it with a signed POST /events.

    Raises a :class:`~helpers.validation.ValidationError` before sending if
    the API would reject the event, and an :class:`EventError` if the API
    does. Throttling is retried. Without an ``id`` the API names the event
    after its request id, so only 429 is retried: a retry after a 5xx could
    start a second execution.
    """
    checked = validation.check_event(due_date, data, id)
    fired = _submit(endpoint, checked)
    logger.info("scheduled event %s due %s", fired.id, fired.due_date)
    return fired


def get_event(endpoint: Endpoint, id: str) -> dict[str, Any]:
    """Return the event's fields and execution status; raise EventNotFoundError.

    GET changes nothing, so throttling, 5xx and connection errors are retried.
    """
    response = _send_to_event(endpoint, "GET", id)
    return _raise_for_answer(response, f"GET /events/{id}")


def _send_to_event(endpoint: Endpoint, method: str, id: str) -> requests.Response:
    """Send an idempotent request to /events/{id}, retrying as send_with_retry does."""
    url = f"{endpoint.events_url}/{_quote(id)}"
    response, _ = send_with_retry(
        lambda: endpoint.session.request(method, url, timeout=REQUEST_TIMEOUT_S),
        sleep=endpoint.sleep,
    )
    return response


def _quote(id: str) -> str:
    return requests.utils.quote(id, safe="")


@dataclass
class CancelResult:
    """The outcome of a cancellation: cancelled only if the status is ABORTED."""

    id: str
    stop_requested: bool
    status: str
    cancelled: bool


def cancel_event(endpoint: Endpoint, id: str) -> CancelResult:
    """Stop the event's execution, then read its status back.

    StopExecution also succeeds on an execution that has already finished,
    and leaves its status as it was, so only an ABORTED status afterwards
    counts as cancelled.
    """
    # Stopping an execution twice has the effect of stopping it once, so the
    # DELETE is retried like a GET.
    response = _send_to_event(endpoint, "DELETE", id)
    answer = _raise_for_answer(response, f"DELETE /events/{id}")
    status = get_event(endpoint, id)["status"]
    cancelled = status == "ABORTED"
    logger.info("cancel of event %s: status %s", id, status)
    return CancelResult(id, bool(answer.get("stopRequested")), status, cancelled)


# Marks a reschedule that keeps the event's data, since None is valid data.
KEEP_DATA: Any = object()


def reschedule_event(
    endpoint: Endpoint,
    id: str,
    due_date: datetime | str,
    data: Any = KEEP_DATA,
    new_id: str | None = None,
) -> tuple[CancelResult, FiredEvent]:
    """Cancel a pending event and schedule it again under a new id.

    Step Functions keeps a closed execution's name for 90 days, so the new
    event cannot reuse ``id``. ``new_id`` defaults to ``<id>-<8 hex digits>``,
    with the id cut to fit 80 characters. The event keeps its data unless
    ``data`` is given. The new event is checked before anything is cancelled.
    Raises EventError if the event had already fired.
    """
    replacement = new_id or f"{id[:71]}-{uuid.uuid4().hex[:8]}"
    if data is KEEP_DATA:
        data = get_event(endpoint, id).get("data")
    validation.check_event(due_date, data, replacement)
    cancelled = cancel_event(endpoint, id)
    if not cancelled.cancelled:
        raise EventError(
            f"event {id} was not rescheduled: it is {cancelled.status}, not pending"
        )
    return cancelled, fire_event(endpoint, due_date, data, replacement)


# --- batches ---------------------------------------------------------------------


def spread_due_dates(
    n: int, window_s: float, lead_s: float, now: datetime | None = None
) -> list[str]:
    """Return ``n`` due dates in whole seconds spread evenly over a window.

    The first is ``lead_s`` seconds after ``now`` (rounded up to a second),
    the last ``window_s`` seconds later.
    """
    if n < 1:
        return []
    start = math.ceil((now or datetime.now(UTC)).timestamp() + lead_s)
    step = window_s / (n - 1) if n > 1 else 0.0
    return [
        datetime.fromtimestamp(start + math.floor(i * step), UTC).strftime(
            validation.CANONICAL_FORMAT
        )
        for i in range(n)
    ]


def new_event_id(prefix: str = "evt") -> str:
    """Return a fresh event id, so that retries of one event reuse one name."""
    return f"{prefix}-{uuid.uuid4().hex}"


def _batch_row(endpoint: Endpoint, event: dict[str, Any]) -> dict[str, Any]:
    """Fire one event of a batch; turn any failure into a row with its reason."""
    row: dict[str, Any] = {"id": event["id"], "dueDate": str(event.get("dueDate"))}
    try:
        checked = validation.check_event(
            event.get("dueDate"), event.get("data"), event["id"]
        )
        fired = _submit(endpoint, checked)
    except validation.ValidationError as error:
        return {**row, "outcome": "rejected", "error": str(error), "attempts": 0}
    except EventError as error:
        outcome = "rejected" if error.status and error.status < 500 else "failed"
        return {
            **row,
            "outcome": outcome,
            "error": str(error),
            "httpStatus": error.status,
        }
    except requests.RequestException as error:
        logger.warning("event %s failed: %s", event["id"], error)
        return {**row, "outcome": "failed", "error": f"request failed: {error}"}
    return _scheduled_row(row, fired)


def _scheduled_row(row: dict[str, Any], fired: FiredEvent) -> dict[str, Any]:
    return {
        **row,
        "dueDate": fired.due_date,
        "dueDateTruncated": fired.due_date_truncated,
        "submittedAt": fired.submitted_at,
        "executionArn": fired.execution_arn,
        "outcome": "scheduled",
        "httpStatus": 200,
        "attempts": fired.attempts,
        "overdue": fired.overdue,
        "notes": "; ".join(fired.notes),
    }


def fire_batch(
    endpoint: Endpoint,
    events: Iterable[dict[str, Any]],
    *,
    max_workers: int = 16,
    progress: bool = True,
) -> pd.DataFrame:
    """Fire events concurrently; return one row per event, failures included.

    Each event is a dict with ``dueDate``, optional ``data`` and optional
    ``id``. An event without an id gets one before its first attempt, so its
    retries reuse it. At most ``max_workers`` requests are in flight. The
    ``outcome`` column is ``scheduled``, ``rejected`` (by the client-side
    check or a 4xx) or ``failed`` (5xx or no answer after retries), and
    ``error`` gives the reason.
    """
    prepared = [{**event, "id": event.get("id") or new_event_id()} for event in events]
    rows: list[dict[str, Any] | None] = [None] * len(prepared)
    bar = tqdm(total=len(prepared), desc="firing events", disable=not progress)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {
            pool.submit(_batch_row, endpoint, event): index
            for index, event in enumerate(prepared)
        }
        for future in as_completed(futures):
            rows[futures[future]] = future.result()
            bar.update()
    bar.close()
    return batch_frame(rows)


def batch_frame(rows: Sequence[dict[str, Any] | None]) -> pd.DataFrame:
    """Build the batch table with every column, submittedAt as UTC timestamps."""
    frame = pd.DataFrame([row or {} for row in rows], columns=BATCH_COLUMNS)
    frame["submittedAt"] = pd.to_datetime(frame["submittedAt"], utc=True)
    frame["overdue"] = frame["overdue"].eq(True)
    frame["attempts"] = frame["attempts"].fillna(0).astype(int)
    frame["httpStatus"] = frame["httpStatus"].astype("Int64")
    return frame


# --- follow, list and store ------------------------------------------------------


def _poll_due_events(
    endpoint: Endpoint,
    statuses: dict[str, str],
    due: dict[str, str],
    bucket: TokenBucket | None,
) -> int:
    """GET each running event whose due time has passed; return how many closed."""
    now = datetime.now(UTC).strftime(validation.CANONICAL_FORMAT)
    closed = 0
    for event_id, status in list(statuses.items()):
        if status == "RUNNING" and due[event_id] <= now:
            if bucket is not None:
                bucket.acquire()
            statuses[event_id] = get_event(endpoint, event_id)["status"]
            closed += statuses[event_id] != "RUNNING"
    return closed


def wait_for_events(
    endpoint: Endpoint,
    frame: pd.DataFrame,
    *,
    timeout_s: float = 600.0,
    poll_s: float = 1.0,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Poll the scheduled events until each has closed; add a ``finalStatus`` column.

    Only events whose due time has passed are polled. On AWS the GETs are
    paced under the DescribeExecution quota. Raises TimeoutError if some are
    still running after ``timeout_s`` seconds.
    """
    scheduled = frame[frame["outcome"] == "scheduled"]
    bucket = None
    if endpoint.target.kind == "aws":
        bucket = TokenBucket(AWS_DESCRIBE_REQUESTS_PER_SECOND, sleep=sleep)
    statuses = dict.fromkeys(scheduled["id"], "RUNNING")
    due = dict(zip(scheduled["id"], scheduled["dueDateTruncated"], strict=True))
    deadline = time.monotonic() + timeout_s
    with tqdm(total=len(statuses), desc="waiting", disable=not progress) as bar:
        while "RUNNING" in statuses.values():
            if time.monotonic() > deadline:
                running = sum(s == "RUNNING" for s in statuses.values())
                raise TimeoutError(
                    f"{running} events still run after {timeout_s:.0f} s"
                )
            sleep(poll_s)
            bar.update(_poll_due_events(endpoint, statuses, due, bucket))
    return frame.assign(finalStatus=frame["id"].map(statuses))


def list_executions(
    target: Target, stack: StackOutputs, status: str | None = None
) -> pd.DataFrame:
    """List the stack's executions, or those with ``status``: id, status, start."""
    client = target.client("stepfunctions")
    arguments = {"stateMachineArn": stack.state_machine_arn}
    if status is not None:
        arguments["statusFilter"] = status
    pages = client.get_paginator("list_executions").paginate(**arguments)
    rows = [
        {
            "id": execution["name"],
            "status": execution["status"],
            "startDate": execution["startDate"],
            "executionArn": execution["executionArn"],
        }
        for page in pages
        for execution in page["executions"]
    ]
    return pd.DataFrame(rows, columns=["id", "status", "startDate", "executionArn"])


def pending_executions(target: Target, stack: StackOutputs) -> pd.DataFrame:
    """List the stack's executions that are still waiting or running."""
    return list_executions(target, stack, status="RUNNING")


def save_run(
    run_id: str,
    frame: pd.DataFrame,
    target: Target,
    stack: StackOutputs,
    results_dir: Path | None = None,
) -> Path:
    """Write ``events.csv`` and ``run.json`` to ``<results_dir>/<run_id>/``.

    Returns the run's folder.
    """
    folder = Path(results_dir or RESULTS_DIR) / run_id
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "events.csv", index=False)
    description = {
        "runId": run_id,
        "target": target.description,
        "targetKind": target.kind,
        "region": target.region,
        "stackName": stack.stack_name,
        "stateMachineArn": stack.state_machine_arn,
        "restApiId": stack.rest_api_id,
        "endpointUrl": stack.endpoint_url,
        "events": len(frame),
        "createdAt": datetime.now(UTC).isoformat(),
    }
    (folder / "run.json").write_text(json.dumps(description, indent=2) + "\n")
    logger.info("saved run %s (%d events) to %s", run_id, len(frame), folder)
    return folder


def load_run(
    run_id: str, results_dir: Path | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a saved run back: its events table and its ``run.json``."""
    folder = Path(results_dir or RESULTS_DIR) / run_id
    description = json.loads((folder / "run.json").read_text())
    frame = pd.read_csv(folder / "events.csv", keep_default_na=False, na_values=[""])
    frame["submittedAt"] = pd.to_datetime(frame["submittedAt"], utc=True)
    frame["overdue"] = frame["overdue"].astype(bool)
    frame["httpStatus"] = frame["httpStatus"].astype("Int64")
    return frame, description


# --- bad inputs ------------------------------------------------------------------

BAD_INPUTS = {
    "dueDate missing": '{"data": {}}',
    "dueDate null": '{"dueDate": null}',
    "dueDate a number": '{"dueDate": 1788000000}',
    "offset +00:00": '{"dueDate": "2026-12-31T15:00:00+00:00"}',
    "lowercase z": '{"dueDate": "2026-12-31T15:00:00z"}',
    "no seconds": '{"dueDate": "2026-12-31T15:00Z"}',
    "February 30": '{"dueDate": "2027-02-30T15:00:00Z"}',
    "empty body": "",
    "not JSON": "dueDate=tomorrow",
    "JSON array": '["2026-12-31T15:00:00Z"]',
    "id with a space": '{"dueDate": "2026-12-31T15:00:00Z", "id": "a b"}',
    "id of 81 characters": '{"dueDate": "2026-12-31T15:00:00Z", "id": "'
    + "x" * 81
    + '"}',
    "unknown field": '{"dueDate": "2026-12-31T15:00:00Z", "when": "now"}',
    # 90,000 euro signs are 270,000 bytes of UTF-8, over the 256 KiB input limit.
    "input over 256 KiB": json.dumps(
        {"dueDate": "2026-12-31T15:00:00Z", "data": "€" * 90_000}, ensure_ascii=False
    ),
}


def _summarise_answer(answer: Any) -> str:
    """Shorten an error body to its validation errors, or field, rule and message."""
    if not isinstance(answer, dict):
        return str(answer)
    if answer.get("errors"):
        return str(answer["errors"])
    prefix = " ".join(
        f"{key}={answer[key]}" for key in ("field", "rule") if key in answer
    )
    return (
        f"{prefix}: {answer.get('message')}" if prefix else str(answer.get("message"))
    )


def probe_bad_inputs(
    endpoint: Endpoint, bodies: dict[str, str] | None = None
) -> pd.DataFrame:
    """POST each body without client-side checks; tabulate the API's responses.

    Columns: ``case``, ``status``, ``answer`` (the parsed body) and
    ``summary`` (its validation errors, or its field, rule and message).
    """
    rows = []
    for case, body in (bodies or BAD_INPUTS).items():
        response = post_event(endpoint, body)
        answer = _json_or_text(response)
        rows.append(
            {
                "case": case,
                "status": response.status_code,
                "answer": answer,
                "summary": _summarise_answer(answer),
            }
        )
    return pd.DataFrame(rows, columns=["case", "status", "answer", "summary"])
